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
        let evil = "/tmp/jailpilot-tests/no\u{1b}[31mred\nforged: ok.conf"
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
            """)
        let result = try await run(["plan", "-c", config, "hello", "--sha", String(sha.prefix(12))])
        #expect(result.status == 0, "\(result.stderrText)")
        #expect(result.stdoutText.contains("# deploy hello_\(sha.prefix(12))"), "\(result.stdoutText)")
        let unknown = try await run(["plan", "-c", config, "hello", "--sha", "0123456789ab"])
        #expect(unknown.status != 0)
        #expect(unknown.stderrText.contains("0123456789ab"))
    }
}
