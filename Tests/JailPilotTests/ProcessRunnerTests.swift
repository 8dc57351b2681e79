import Foundation
import JailPilot
import Testing

@Suite struct ProcessRunnerTests {
    let runner = HostProcessRunner(killGrace: .milliseconds(500))

    @Test func capturesOutputAndStatus() async throws {
        let result = try await runner.run(Command("sh", ["-c", "echo out; echo err >&2; exit 3"]))
        #expect(result.status == 3)
        #expect(result.stdoutText == "out\n")
        #expect(result.stderrText == "err\n")
        #expect(!result.succeeded)
    }

    @Test func argumentsAreNeverShellInterpreted() async throws {
        let hostile = "a b; touch /tmp/jailpilot-should-not-exist $(id) `id`"
        let result = try await runner.run(Command("printf", ["%s", hostile]))
        #expect(result.stdoutText == hostile)
        #expect(!FileManager.default.fileExists(atPath: "/tmp/jailpilot-should-not-exist"))
    }

    @Test func environmentIsExactlyWhatWasGiven() async throws {
        let result = try await runner.run(Command("/usr/bin/env", [], environment: ["ONLY": "this"]))
        #expect(result.stdoutText == "ONLY=this\n")
    }

    @Test func workingDirectoryIsApplied() async throws {
        let result = try await runner.run(Command("pwd", [], workingDirectory: "/tmp"))
        #expect(result.stdoutText == "/tmp\n")
    }

    @Test func timeoutKillsTheWholeProcessGroup() async throws {
        let scratch = try Scratch("proc")
        let marker = "\(scratch.path)/grandchild-survived"
        // The grandchild would write the marker after 2 s unless its process group is killed.
        let script = "(sleep 2; touch \(marker)) & sleep 30"
        let clock = ContinuousClock()
        let start = clock.now
        let result = try await runner.run(
            Command("sh", ["-c", script]), stdout: .discard, stderr: .discard, timeout: .milliseconds(300))
        #expect(result.timedOut)
        #expect(clock.now - start < .seconds(10))
        try await Task.sleep(for: .seconds(2.5))
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func missingProgramSaysWhereItLooked() async throws {
        let error = await #expect(throws: ProcessError.self) {
            try await runner.run(Command("no-such-program-xyz", [], environment: ["PATH": "/usr/bin"]))
        }
        #expect(error?.description.contains("not found in PATH (/usr/bin)") == true)
    }

    @Test func appendTargetKeepsEarlierContent() async throws {
        let scratch = try Scratch("proc")
        let log = try scratch.write("log", "first\n")
        _ = try await runner.run(
            Command("echo", ["second"]), stdout: .append(path: log), stderr: .append(path: log), timeout: nil)
        #expect(try String(contentsOfFile: log, encoding: .utf8) == "first\nsecond\n")
    }

    @Test func commandsPrintShellQuoted() {
        #expect(Command("zfs", ["clone", "a@b", "it's here"]).description == "zfs clone a@b 'it'\\''s here'")
    }
}
