import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// `files`: host files (a service's config) installed into each release; their content is part
/// of the release's identity, so editing one makes a new release of the same commit (#33).
@Suite struct ReleaseFilesTests {
    static let jailPath = "/usr/local/etc/app.yml"

    /// agent.conf lines that start the serve CLI with `--config-file` and install `host` for it.
    static func lines(host: String) -> String {
        """
        args = ["serve", "--config-file=\(jailPath)"]
        files = { "\(jailPath)" = \(TestAgentConf.quoted(host)) }
        """
    }

    /// A root-owned host config file of `mode` holding `text`.
    static func hostFile(_ scratch: Scratch, _ text: String, mode: mode_t = 0o640) throws -> String {
        let path = "\(scratch.path)/app.yml"
        try FileIO.replace(path, text: text, mode: mode)
        chmod(path, mode)
        return path
    }

    // Regression (#33): `files` was refused as an unknown key; a config written by hand into the
    // data volume was not part of the release.
    @Test func filesAreReadAndPathsJailpilotWritesOrCannotHoldAreRefused() throws {
        let state = try Scratch("files-config")
        func issues(_ files: String) -> String {
            let conf = TestAgentConf.hello(
                stateDir: state.path, repo: "https://e.example/h.git", lines: "data = \"/var/db/hello\"\nfiles = \(files)")
            do {
                _ = try conf.config()
                return ""
            } catch { return "\(error)" }
        }
        #expect(issues("{ \"/usr/local/etc/app.yml\" = \"/usr/local/etc/jailpilot/app.yml\" }") == "")
        let refused = [
            ("{ \"etc/app.yml\" = \"/h\" }", "'etc/app.yml' must be an absolute path"),
            ("{ \"/usr/local/bin/hello\" = \"/h\" }", "'/usr/local/bin/hello' is written by jailpilot itself"),
            ("{ \"/.jailpilot-env\" = \"/h\" }", "'/.jailpilot-env' is written by jailpilot itself"),
            ("{ \"/dev/null\" = \"/h\" }", "'/dev/null' is in /dev"),
            ("{ \"/var/db/hello/app.yml\" = \"/h\" }", "is inside the data volume (/var/db/hello)"),
            ("{ \"/usr/local/etc/\" = \"/h\" }", "must name a file, not a directory"),
            ("{ \"/usr//etc/a\" = \"/h\" }", "must be a plain path"),
            ("{ \"/usr/local/etc/a\" = \"h\" }", "'h' must be an absolute path"),
        ]
        for (files, expected) in refused {
            let text = issues(files)
            #expect(text.contains("apps.hello.files: ") && text.contains(expected), "\(files): \(text)")
        }
    }

    /// The content is what names the release: the same file, the same name; an edit, another.
    /// Only root may change the file; `check` says so before a deploy does.
    @Test func aFilesContentIsPartOfTheReleasesIdentityAndOnlyRootMayChangeIt() throws {
        let state = try Scratch("files-identity")
        let layout = StateLayout(root: state.path)
        let host = try Self.hostFile(state, "listen: 1\n")
        let config = try TestAgentConf.hello(stateDir: state.path, repo: "https://e.example/h.git", lines: Self.lines(host: host))
            .config()
        let app = try #require(config.app("hello"))
        let first = try AppEnvironment.resolve(app, layout: layout)
        #expect(first.files.map(\.path) == [Self.jailPath] && first.files[0].mode == 0o440)
        #expect(try AppEnvironment.resolve(app, layout: layout).digest == first.digest)
        _ = try Self.hostFile(state, "listen: 2\n")
        #expect(try AppEnvironment.resolve(app, layout: layout).digest != first.digest)
        #expect(AppFiles.problems(config).isEmpty)

        chmod(host, 0o664)
        let refused = #expect(throws: ReleaseFileError.self) { try AppEnvironment.resolve(app, layout: layout) }
        #expect(
            refused?.description
                == "app hello: files \(host) (for \(Self.jailPath)) goes into the app's releases but is mode 664 owned by uid 0; only root may change it: chown root \(host) && chmod go-w \(host); nothing was deployed"
        )
        #expect(AppFiles.problems(config).first?.hasPrefix("hello: files \(host) (for \(Self.jailPath)) goes into") == true)
        // World-readable on the host: anyone in the jail may read it too.
        chmod(host, 0o644)
        #expect(try AppEnvironment.resolve(app, layout: layout).files[0].mode == 0o444)
    }

    /// `plan` says where a file comes from and how it is installed, never what it holds.
    @Test func planShowsTheFileNotItsContent() throws {
        let file = ReleaseFile(
            path: Self.jailPath, source: "/usr/local/etc/jailpilot/app.yml", bytes: Array("password: hunter2\n".utf8),
            isPublic: false)
        let line = HostStep.releaseFile(path: "/jails/hello_abc/usr/local/etc/app.yml", file: file).description
        #expect(
            line
                == "install -o root -g 65534 -m 440 /usr/local/etc/jailpilot/app.yml /jails/hello_abc/usr/local/etc/app.yml   # files: 18 bytes as read for this release (content not shown)"
        )
        #expect(!line.contains("hunter2"))
    }

    @Test(.enabled(if: canDeploy, "needs root, caddy, go, btrfs-progs and iproute2"))
    func aServiceReadsItsConfigFileAndAnEditMakesANewReleaseOnLinux() async throws {
        let scratch = try Scratch("files-linux")
        let host = try Self.hostFile(scratch, "greeting: one\n")
        try await E2EWorld.with(appExtra: Self.lines(host: host)) { world in
            let sha = try await world.repo.commitServeCLI()
            let first = try await world.deployer.deploy(world.app).release
            #expect(await world.fetch("/config") == "greeting: one\n")
            // The app's user reads it through its group; it cannot change it.
            let installed = "\(E2EHost.mountpoint)/containers/\(first.name)\(Self.jailPath)"
            var info = stat()
            #expect(stat(installed, &info) == 0 && info.st_uid == 0 && info.st_gid == 65534 && info.st_mode & 0o777 == 0o440)

            // Unchanged, a deploy is "already live"; edited, a new release of the same commit.
            #expect(try await world.deployer.deploy(world.app).release.name == first.name)
            _ = try Self.hostFile(scratch, "greeting: two\n")
            let second = try await world.deployer.deploy(world.app).release
            #expect(second.sha == sha && second.name != first.name)
            #expect(await world.fetch("/config") == "greeting: two\n")
        }
    }

    @Test(.enabled(if: canStandIn, "needs root, python3, go, setpriv and bwrap"))
    func aServiceReadsItsConfigFileOnFreeBSD() async throws {
        let scratch = try Scratch("files-freebsd")
        let host = try Self.hostFile(scratch, "greeting: jail\n")
        try await FreeBSDWorld.with(appExtra: Self.lines(host: host)) { world in
            try await world.repo.commitServeCLI()
            let live = try await world.deployer.deploy(world.app).release
            let installed = "\(world.runtime.config.jails.mountpoint)/containers/\(live.name)\(Self.jailPath)"
            var info = stat()
            #expect(stat(installed, &info) == 0 && info.st_gid == 65534 && info.st_mode & 0o777 == 0o440)
            #expect(await world.fetch(live, "/config") == "greeting: jail\n")
        }
    }
}
