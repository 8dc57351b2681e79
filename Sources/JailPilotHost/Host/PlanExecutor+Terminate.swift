import FoundationEssentials
import Glibc
import JailPilotCore

extension PlanExecutor {
    /// The `.terminate` step: SIGTERM to the children of the process in `pidFile` (Linux: the
    /// supervisor shell under `unshare`, which ignores SIGTERM while it waits; its child, pid 1
    /// of the jail, forwards it to the service), then up to `drain` for `listPids` to go quiet,
    /// then SIGKILL to whatever it still lists. Idempotent: no pid file, nothing to signal.
    func terminate(pidFile: String, marker: String, listPids: Command, drain: Duration) async throws {
        if let pid = Self.livePid(pidFile, marker: marker) {
            for child in Self.children(of: pid) { kill(child, SIGTERM) }
            let deadline = ContinuousClock.now + drain
            while ContinuousClock.now < deadline, await !pids(listPids).isEmpty {
                var status: Int32 = 0
                _ = waitpid(pid, &status, WNOHANG)
                try? await Task.sleep(for: .milliseconds(50))
            }
            var status: Int32 = 0
            _ = waitpid(pid, &status, WNOHANG)
        }
        for pid in await pids(listPids) { kill(pid, SIGKILL) }
        unlink(pidFile)
    }

    /// What `command` prints, one pid a line; none when it fails (the namespace is gone).
    func pids(_ command: Command) async -> [pid_t] {
        guard let result = try? await runner.run(command, timeout: .seconds(10)), result.succeeded else { return [] }
        return result.stdoutText.split(separator: "\n").compactMap { pid_t($0.trimmedWhitespace) }
    }

    /// The pid in `pidFile` if it is alive and its command line contains `marker` (so a reused
    /// pid is never signalled).
    static func livePid(_ pidFile: String, marker: String) -> pid_t? {
        guard let text = try? FileIO.readText(pidFile), let pid = pid_t(text.trimmedWhitespace), pid > 0,
            kill(pid, 0) == 0,
            let cmdline = try? FileIO.readText("/proc/\(pid)/cmdline"), cmdline.contains(marker)
        else { return nil }
        return pid
    }

    static func children(of pid: pid_t) -> [pid_t] {
        let text = (try? FileIO.readText("/proc/\(pid)/task/\(pid)/children")) ?? ""
        return text.split(separator: " ").compactMap { pid_t($0.trimmedWhitespace) }
    }
}
