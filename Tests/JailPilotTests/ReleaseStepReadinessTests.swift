import Foundation
import JailPilotTesting
import Testing

@testable import JailPilot
@testable import JailPilotHost

/// When the Linux driver lets a release step into a started jail: only once the jail's pid 1
/// has mounted /dev and the data volume. No root needed: the "supervisor" is a plain shell
/// whose pid 1 is busy in a child, as it is while it runs `mount`.
@Suite struct ReleaseStepReadinessTests {
    /// A runner that records what it is asked to run and runs nothing.
    final class Recorder: ProcessRunning, @unchecked Sendable {
        private let lock = NSLock()
        private var commands: [Command] = []
        var ran: [Command] { lock.withLock { commands } }
        func run(_ command: Command, stdout: OutputTarget, stderr: OutputTarget, timeout: Duration?) async throws
            -> ProcessResult
        {
            lock.withLock { commands.append(command) }
            return ProcessResult(status: 0)
        }
    }

    // Regression: the step entered the jail as soon as pid 1 had a child, which its
    // `mount -t tmpfs ... /dev` already is; under load the step ran before the data volume was
    // bound and could not open $JAILPILOT_DATA/migrations (exit 2, seen in CI's DataTests).
    @Test func aReleaseStepWaitsUntilTheJailHasMountedItsDataNotJustUntilPid1HasAChild() async throws {
        let scratch = try Scratch("ready")
        var conf = TestAgentConf.hello(
            stateDir: "\(scratch.path)/state", repo: "https://example.org/h.git",
            lines: "data = \"/var/db/hello\"\nrelease = [\"/usr/local/bin/hello\", \"migrate\"]")
        conf.jails.mountpoint = "\(scratch.path)/jails"
        let config = try conf.config()
        let runner = Recorder()
        var host = LinuxJails(
            settings: config.jails, runner: runner, owner: OwnerID(id: "0123456789abcdef", stateDir: scratch.path))
        host.readyTimeout = .milliseconds(600)
        let app = try #require(config.app("hello"))
        let spec = JailSpec(
            app: app, sha: String(repeating: "a", count: 40), address: "172.31.0.2", artifact: "/x")
        let run = "\(scratch.path)/jails/run"
        // The supervisor (unshare's stand-in) whose first child, pid 1, is still in a "mount".
        let script = try scratch.write("jails/run/\(spec.name).sh", "sh -c 'sleep 30; :'\n:\n")
        let supervisor = Process()
        supervisor.executableURL = URL(fileURLWithPath: "/bin/sh")
        supervisor.arguments = [script]
        try supervisor.run()
        defer {
            for child in PlanExecutor.children(of: supervisor.processIdentifier) {
                for grandchild in PlanExecutor.children(of: child) { kill(grandchild, SIGKILL) }
                kill(child, SIGKILL)
            }
            supervisor.terminate()
        }
        try FileIO.replace("\(run)/\(spec.name).pid", text: "\(supervisor.processIdentifier)\n")
        var pid1: pid_t?
        for _ in 0..<250 where pid1 == nil {
            let first = PlanExecutor.children(of: supervisor.processIdentifier).first
            if let first, !PlanExecutor.children(of: first).isEmpty {
                pid1 = first
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        let busy = try #require(pid1, "the stand-in's pid 1 never started its child")

        await #expect(throws: HostStepError.self) {
            _ = try await host.runReleaseStep(spec, argv: app.release, timeout: .seconds(5))
        }
        #expect(!runner.ran.contains(where: Self.entersJail), "the step must not enter a jail still mounting: \(runner.ran)")

        // Once the supervisor says it is ready, the step enters through pid 1.
        try FileIO.replace("\(run)/\(spec.name).ready", text: "")
        _ = try await host.runReleaseStep(spec, argv: app.release, timeout: .seconds(5))
        let entered = try #require(runner.ran.first(where: Self.entersJail))
        let argv = [entered.executable] + entered.arguments
        let nsenter = try #require(argv.firstIndex(of: "nsenter"))
        #expect(Array(argv[nsenter...].prefix(3)) == ["nsenter", "--target", String(busy)], "\(entered)")
        #expect(argv.suffix(2) == ["/usr/local/bin/hello", "migrate"])
    }

    /// Whether `command` is the step's entry into the jail (maybe behind the cgroup launcher).
    static func entersJail(_ command: Command) -> Bool { ([command.executable] + command.arguments).contains("nsenter") }
}
