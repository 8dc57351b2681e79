import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// `args`: the service's argv after its binary. Real Go services are CLIs (`app serve CONFIG`)
/// that print their usage and exit when started bare.
@Suite struct ServiceArgsTests {
    /// Arguments a shell would mangle if any were unquoted: quotes, `$`, backquotes, a newline,
    /// an empty one.
    static let awkward = ["--config=/usr/local/etc/app.yml", "it's $HOME `id` \"q\" \\", "two\nlines", ""]

    /// agent.conf's `args` line for `words` after `serve`.
    static func argsLine(_ words: [String]) -> String {
        "args = [" + (["serve"] + words).map { TestAgentConf.quoted($0) }.joined(separator: ", ") + "]"
    }

    // Regression (#33): `args` was refused as an unknown key.
    @Test func argsAreReadAndANULIsRefused() throws {
        let state = try Scratch("args")
        let conf = TestAgentConf.hello(stateDir: state.path, repo: "https://e.example/h.git", lines: Self.argsLine(Self.awkward))
        #expect(try conf.config().app("hello")?.args == ["serve"] + Self.awkward)
        let nul = TestAgentConf.hello(stateDir: state.path, repo: "https://e.example/h.git", lines: "args = [\"a\\u0000b\"]")
        let refused = #expect(throws: ConfigError.self) { try nul.config() }
        #expect("\(refused.map { "\($0)" } ?? "")".contains("apps.hello.args: an argument holds a NUL byte"))
    }

    /// The arguments are part of the release's name, as the environment is: other arguments,
    /// another release of the same commit; none, the names releases had before `args`.
    @Test func argsArePartOfTheReleasesIdentity() throws {
        let state = try Scratch("args-identity")
        let layout = StateLayout(root: state.path)
        func digest(_ lines: String) throws -> String {
            let app = try #require(
                try TestAgentConf.hello(stateDir: state.path, repo: "https://e.example/h.git", lines: lines).config().app("hello")
            )
            return try AppEnvironment.resolve(app, layout: layout).digest
        }
        #expect(try digest("") == "", "no arguments and no variables: the name has no digest")
        let env = try digest("env = { A = \"1\" }")
        let serve = try digest("args = [\"serve\"]")
        #expect(serve.count == 8 && serve != env)
        #expect(try digest("args = [\"serve\", \"x\"]") != serve)
        #expect(try digest("env = { A = \"1\" }\nargs = [\"serve\"]") != env)
        // An argument cannot pass for a variable, nor two arguments for one.
        #expect(try digest("args = [\"serve x\"]") != (try digest("args = [\"serve\", \"x\"]")))
    }

    @Test(.enabled(if: canDeploy, "needs root, caddy, go, btrfs-progs and iproute2"))
    func aServiceThatNeedsASubcommandRunsWithItsArgsOnLinux() async throws {
        try await E2EWorld.with(appExtra: Self.argsLine(Self.awkward)) { world in
            let sha = try await world.repo.commitServeCLI()
            let first = try await world.deployer.deploy(world.app).release
            #expect(await world.fetch() == Self.awkward.joined(separator: "\n"))

            // New arguments: a new release of the same commit, live through the same gate.
            var conf = world.conf
            conf.apps[0].lines = Self.argsLine(["--verbose"])
            let runtime = try Runtime(config: try conf.parsed(file: "args.conf"), echo: false)
            let second = try await runtime.deployer().deploy(try #require(runtime.config.app("hello"))).release
            #expect(second.sha == sha && second.name != first.name)
            #expect(await world.fetch() == "--verbose")

            // Started bare, the same binary exits with its usage: `deploy` says it exited and
            // ends with the app's own last lines, which say why.
            conf.apps[0].lines = ""
            let bare = "\(world.state.path)/bare.conf"
            try FileIO.replace(bare, text: conf.text)
            let failed = try await HostProcessRunner().run(
                Command(CLITests.binary, ["deploy", "-c", bare, "hello"]), timeout: .seconds(120))
            #expect(failed.status == 1, "\(failed.stderrText)")
            #expect(failed.stderrText.contains("the app exited"), "\(failed.stderrText)")
            #expect(
                failed.stderrText.contains("the app's log ends:\n    Please specify one command of: serve, version"),
                "\(failed.stderrText)")
            #expect(await world.fetch() == "--verbose", "the live release kept serving")
        }
    }

    @Test(.enabled(if: canStandIn, "needs root, python3, go and setpriv"))
    func aServiceThatNeedsASubcommandRunsWithItsArgsOnFreeBSD() async throws {
        try await FreeBSDWorld.with(appExtra: Self.argsLine(Self.awkward)) { world in
            try await world.repo.commitServeCLI()
            let live = try await world.deployer.deploy(world.app).release
            let root = "\(world.runtime.config.jails.mountpoint)/containers/\(live.name)"
            // The stand-in has no chroot: it moves the script's /usr/local/ paths into the jail's
            // root, which is where the jail's own /usr/local/etc/app.yml is on this host.
            let expected = Self.awkward.joined(separator: "\n").replacingOccurrences(
                of: "/usr/local/", with: "\(root)/usr/local/")
            #expect(await world.fetch(live) == expected)
            let rc = try FileIO.readText("\(root)/usr/local/etc/rc.d/hello")
            #expect(
                rc.contains(
                    "\"$command\" 'serve' '--config=/usr/local/etc/app.yml' 'it'\\''s $HOME `id` \"q\" \\' 'two\nlines' ''"))
        }
    }
}
