import Foundation
import JailPilot
import Testing

/// The `jailpilot` binary as a user runs it.
@Suite struct CLITests {
    static var binary: String { CrashTests.binary }

    func run(_ args: [String]) async throws -> ProcessResult {
        try await HostProcessRunner().run(Command(Self.binary, args), timeout: .seconds(60))
    }

    /// A file name from outside must not drive the terminal or forge an error line.
    @Test func namesWithControlCharactersAreEscapedInErrors() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the jailpilot binary first")
        let evil = "\(Scratch.root)/no\u{1b}[31mred\nforged: ok.conf"
        for args in [["check", "-c", evil], ["status", "-c", evil, "x"], ["deploy", "-c", evil, "hello"]] {
            let result = try await run(args)
            #expect(result.status != 0)
            #expect(!result.stderrText.contains("\u{1b}"), "raw escape in: \(result.stderrText)")
            #expect(!result.stderrText.contains("\nforged: ok.conf"), "raw newline in: \(result.stderrText)")
            #expect(result.stderrText.contains("no\\u001b[31mred\\nforged: ok.conf"), "\(result.stderrText)")
        }
    }

    /// `plan --sha <12 hex>` in a state_dir that has never fetched once said the commit was not
    /// on the branch.
    @Test func planResolvesAShortSHAInAFreshStateDir() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the jailpilot binary first")
        let repo = try await GitFixture()
        let sha = try await repo.commit(["main.go": "package main\n"])
        let state = try Scratch("plan")
        let config = try state.write(
            "agent.conf",
            """
            [agent]
            platform = "linux"
            state_dir = "\(state.path)/state"
            log_file = ""
            [apps.hello]
            repo = "\(repo.fileURL)"
            hostnames = ["hello.localhost"]
            build = ["go", "build", "-ldflags", "-X main.v=1 -s", "-o", "{out}", "."]
            args = ["serve", "--name", "it's"]
            """)
        let result = try await run(["plan", "-c", config, "hello", "--sha", String(sha.prefix(12))])
        #expect(result.status == 0, "\(result.stderrText)")
        #expect(result.stdoutText.contains("# deploy hello_\(sha.prefix(12))_"), "\(result.stdoutText)")
        // Regression (#33): the build argv was printed unquoted, one word where go gets two.
        #expect(result.stdoutText.contains("go build -ldflags '-X main.v=1 -s' -o '{out}' ."), "\(result.stdoutText)")
        // The service's arguments, as its start script passes them.
        #expect(result.stdoutText.contains("/usr/local/bin/hello 'serve' '--name' 'it'\\''s' </dev/null"), "\(result.stdoutText)")
        let unknown = try await run(["plan", "-c", config, "hello", "--sha", "0123456789ab"])
        #expect(unknown.status != 0)
        #expect(unknown.stderrText.contains("0123456789ab"))
    }

    // Regression (#33): after a rollback (which holds the app), a deploy by hand went live on the
    // branch head and left the hold on the older commit, which the agent then followed.
    @Test func aDeployByHandWhileHeldIsRefusedWithTheCommandThatLiftsTheHold() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the jailpilot binary first")
        let state = try Scratch("held-deploy")
        let config = try unsandboxedConfig(
            state, "[apps.hello]\nrepo = \"https://forge.example/hello.git\"\nhostnames = [\"hello.localhost\"]\n")
        let held = String(repeating: "ab", count: 20)
        try StateStore(stateDir: "\(state.path)/state").hold(app: "hello", sha: held)
        let refused = try await run(["deploy", "-c", config, "hello"])
        #expect(refused.status == 1, "\(refused.stderrText)")
        #expect(
            refused.stderrText.contains(
                "hello is held at abababababab (a rollback holds it there); a deploy by hand would go live on another commit"),
            "\(refused.stderrText)")
        #expect(refused.stderrText.contains("Run `jailpilot resume hello` to lift the hold"), "\(refused.stderrText)")
        let other = try await run(["deploy", "-c", config, "hello", "--sha", "0123456"])
        #expect(other.status == 1 && other.stderrText.contains("is held at abababababab"), "\(other.stderrText)")
        #expect(try StateStore(stateDir: "\(state.path)/state").holdSHA(app: "hello") == held, "the hold is where it was")
    }

    /// `history` reads the timeline with --since as a duration or a time, and refuses anything else.
    @Test func historySinceTakesADurationOrATime() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the jailpilot binary first")
        let state = try Scratch("history")
        let config = try unsandboxedConfig(
            state, "[apps.hello]\nrepo = \"https://forge.example/hello.git\"\nhostnames = [\"hello.localhost\"]\n")
        let store = try StateStore(stateDir: "\(state.path)/state")
        try store.record(
            Transition(
                time: Date().addingTimeInterval(-3 * 86400), app: "hello", from: nil, to: String(repeating: "a", count: 40),
                cause: "push", actor: "agent", outcome: "live"))
        let all = try await run(["history", "-c", config, "hello"])
        #expect(
            all.status == 0 && all.stdoutText.contains("- → aaaaaaaaaaaa  live  push by agent"),
            "\(all.stdoutText)\(all.stderrText)")
        let recent = try await run(["history", "-c", config, "hello", "--since", "2d"])
        #expect(
            recent.status == 0 && recent.stdoutText.contains("no transitions of hello recorded since 2d"), "\(recent.stdoutText)")
        let dated = try await run(["history", "-c", config, "hello", "--since", "2020-01-01T00:00:00Z", "--json"])
        #expect(
            dated.status == 0 && dated.stdoutText.contains("\"outcome\" : \"live\""), "\(dated.stdoutText)\(dated.stderrText)")
        let bad = try await run(["history", "-c", config, "hello", "--since", "yesterday"])
        #expect(bad.status != 0 && bad.stderrText.contains("--since 'yesterday'"), "\(bad.stderrText)")
        // Regression (#33): a value the command cannot use printed the usage block and exited 64.
        #expect(bad.status == 1 && !bad.stderrText.contains("USAGE"), "\(bad.status) \(bad.stderrText)")
        let noAgent = try await run(["trigger", "-c", config, "hello"])
        #expect(noAgent.status == 1 && noAgent.stderrText.contains("cannot reach the agent"), "\(noAgent.stderrText)")
        #expect(!noAgent.stderrText.contains("USAGE"), "\(noAgent.stderrText)")
    }

    // Regression (#33): check said ok for env_files and token_file that did not exist; the
    // first deploy failed on them.
    @Test func checkNamesSecretAndCredentialFilesTheAgentCannotUse() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the jailpilot binary first")
        let state = try Scratch("check-files")
        let config = try unsandboxedConfig(
            state,
            """
            [apps.hello]
            repo = "https://forge.example/hello.git"
            hostnames = ["hello.localhost"]
            env_files = ["\(state.path)/missing.env"]
            token_file = "\(state.path)/missing.token"

            """)
        let result = try await run(["check", "-c", config])
        #expect(result.status == 1, "\(result.stdoutText)\(result.stderrText)")
        #expect(
            result.stderrText.contains("hello: env_files \(state.path)/missing.env cannot read it: No such file"),
            "\(result.stderrText)")
        #expect(
            result.stderrText.contains("hello: token_file \(state.path)/missing.token cannot be read: No such file"),
            "\(result.stderrText)")
    }

    /// agent.conf for the Linux driver in `state`, builds unsandboxed, no log file, then `rest`.
    func unsandboxedConfig(_ state: Scratch, _ rest: String) throws -> String {
        try state.write(
            "agent.conf",
            "[agent]\nplatform = \"linux\"\nstate_dir = \"\(state.path)/state\"\nlog_file = \"\"\nbuild_sandbox = false\n" + rest)
    }

    // Regression (#33): run by anyone but root, deploy failed halfway with "unable to open
    // database file" or "Permission denied" and never said it needs root.
    @Test(.enabled(if: isRoot && have("setpriv"), "needs root (to become nobody) and setpriv"))
    func commandsThatChangeJailsSayTheyNeedRoot() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the jailpilot binary first")
        let state = try Scratch("needs-root")
        let config = try unsandboxedConfig(
            state, "[apps.hello]\nrepo = \"https://forge.example/hello.git\"\nhostnames = [\"hello.localhost\"]\n")
        for command in [
            ["deploy", "hello"], ["rollback", "hello"], ["resume", "hello"], ["remove", "hello"], ["routes"], ["run"],
        ] {
            let result = try await HostProcessRunner().run(
                Command(
                    "setpriv",
                    ["--reuid=65534", "--regid=65534", "--clear-groups", Self.binary] + [command[0], "-c", config]
                        + command.dropFirst()),
                timeout: .seconds(30))
            #expect(result.status == 1, "\(command): \(result.status) \(result.stderrText)")
            #expect(
                result.stderrText.contains("jailpilot \(command[0]) needs root") && !result.stderrText.contains("USAGE"),
                "\(command): \(result.stderrText)")
        }
    }

    /// Regression: the builder chowned every artifact to root, so a build by anyone else failed,
    /// and said "stopped: chown …" as if the disk were full. Run as nobody, unsandboxed.
    @Test(.enabled(if: isRoot && have("setpriv") && have("go"), "needs root (to become nobody), setpriv and go"))
    func aBuildWithoutRootInstallsItsArtifact() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the jailpilot binary first")
        let state = try Scratch("nonroot")
        let repo = "\(state.path)/hello"
        let git = HostProcessRunner()
        _ = try await git.run(Command("git", ["init", "-q", "-b", "main", repo]))
        try FileIO.replace("\(repo)/main.go", text: GoFixture.hello("nobody's"))
        try FileIO.replace("\(repo)/go.mod", text: "module hello\n\ngo 1.19\n")
        for args in [["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "one"]] {
            _ = try await git.run(Command("git", ["-C", repo] + args))
        }
        let config = try unsandboxedConfig(
            state,
            """
            [apps.hello]
            repo = "file://\(repo)"
            hostnames = ["hello.localhost"]
            """)
        try FileIO.makeDirectories("\(state.path)/state")
        _ = try await git.run(Command("chown", ["-R", "65534:65534", state.path]))
        chmod(state.path, 0o755)
        let result = try await git.run(
            Command(
                "setpriv",
                [
                    "--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=/tmp", Self.binary, "build", "-c", config,
                    "hello",
                ]),
            timeout: .seconds(120))
        #expect(result.status == 0, "\(result.stderrText)")
        let artifact = result.stdoutText.trimmedWhitespace.split(separator: "\n").last.map(String.init) ?? ""
        var info = stat()
        #expect(stat(artifact, &info) == 0 && info.st_uid == 65534, "the artifact is the builder's: \(artifact)")
        #expect(!result.stderrText.contains("stopped"), "no disk-full wording: \(result.stderrText)")
    }

    /// `jailpilot doctor` exits 1 and names each failing check with its fix.
    @Test func doctorExitsNonZeroWithEachFailingCheck() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the jailpilot binary first")
        let state = try Scratch("doctor-cli")
        let config = try unsandboxedConfig(
            state,
            """
            [jails]
            mountpoint = "\(state.path)/none"
            [caddy]
            admin = "http://127.0.0.1:\(freePort())"
            resolver = "127.0.0.1:\(freePort())"
            [apps.hello]
            repo = "https://forge.example/hello.git"
            hostnames = ["hello.localhost"]
            """)
        let result = try await run(["doctor", "-c", config])
        #expect(result.status == 1, "\(result.stdoutText)\(result.stderrText)")
        #expect(result.stdoutText.contains("✗ caddy: no admin API at"))
        #expect(result.stdoutText.contains("    fix: "))
        #expect(result.stdoutText.contains("checks fail"))
        let json = try await run(["doctor", "-c", config, "--json"])
        let checks = try JSONSerialization.jsonObject(with: json.stdout) as? [[String: Any]]
        #expect(checks?.contains { $0["name"] as? String == "template" && $0["ok"] as? Bool == false } == true)
    }
}
