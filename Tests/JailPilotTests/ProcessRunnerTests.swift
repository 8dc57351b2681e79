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
        let go = "\(scratch.path)/go"
        let started = "\(scratch.path)/grandchild-started"
        // The grandchild writes the marker once the test says go, which it does only after the run
        // returned: a timer that fires late under load cannot let it write early (it did with a
        // fixed `sleep 2`: the suite under load failed here), and a survivor writes within 50 ms.
        let script =
            "(touch \(started); while [ ! -e \(go) ]; do sleep 0.05; done; touch \(marker)) & "
            + "while [ ! -e \(started) ]; do sleep 0.01; done; sleep 30"
        let clock = ContinuousClock()
        let start = clock.now
        let result = try await runner.run(
            Command("sh", ["-c", script]), stdout: .discard, stderr: .discard, timeout: .seconds(2))
        #expect(result.timedOut)
        #expect(clock.now - start < .seconds(12))
        #expect(FileManager.default.fileExists(atPath: started), "the grandchild ran before the timeout")
        _ = FileManager.default.createFile(atPath: go, contents: nil)
        try await Task.sleep(for: .seconds(1))
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
