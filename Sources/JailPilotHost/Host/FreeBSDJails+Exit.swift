import FoundationEssentials
import Glibc
import JailPilotCore

/// Noticing at once that a release's service died, as the Linux driver's supervisor reports it.
///
/// daemon(8) restarts the service without a word, but it leaves two traces. It writes the
/// supervisor's pid file once, after daemon(3), and the child's pid file in the child after
/// every fork: the restart loop jumps back to `fork()` and the child branch calls
/// `pidfile_write(child_pidfh)` again (usr.sbin/daemon/daemon.c, main). So a child pid file
/// written later than the supervisor's means the service was restarted, and a child pid that
/// no longer exists means it just exited (daemon waits `-R` seconds before the next fork). A
/// non-VNET jail's processes have host-wide pids, so the host can ask kill(2) about them.
extension FreeBSDJails {
    /// The service's pid files and log inside the jail's root.
    func runFiles(_ spec: JailSpec) -> (child: String, supervisor: String) {
        let run = "\(root(spec.name))/var/run"
        return ("\(run)/\(spec.service).pid", "\(run)/\(spec.service).daemon.pid")
    }

    public func exitReport(_ spec: JailSpec) async -> String? {
        let files = runFiles(spec)
        guard let supervisorWritten = FileIO.modified(files.supervisor) else {
            // No supervisor: the rc script never started daemon(8). Once /etc/rc has finished
            // writing the console log for a moment, that is final; what it printed says why.
            guard let console = FileIO.modified(consoleLog(spec.name)), Self.now() - console > 2 else { return nil }
            return "the service did not start" + tail(consoleLog(spec.name), prefix: ": ")
        }
        guard let child = Self.readPid(files.child), let childWritten = FileIO.modified(files.child) else { return nil }
        let restarted = childWritten - supervisorWritten > 0.5
        let gone = kill(child, 0) != 0 && errno == ESRCH
        guard restarted || gone else { return nil }
        let how = restarted ? "exited and daemon(8) restarted it (now pid \(child))" : "exited (pid \(child) is gone)"
        return how + tail(logPath(spec), prefix: ": ")
    }

    /// The last three non-empty lines of a log, joined, or nothing.
    func tail(_ path: String, prefix: String) -> String {
        guard let text = try? FileIO.readText(path, lastBytes: 16384) else { return "" }
        let lines = text.split(separator: "\n").map { String($0).trimmedWhitespace }.filter { !$0.isEmpty }.suffix(3)
        return lines.isEmpty ? "" : prefix + lines.joined(separator: " | ")
    }

    static func readPid(_ path: String) -> pid_t? {
        guard let text = try? FileIO.readText(path), let pid = pid_t(text.trimmedWhitespace), pid > 0 else { return nil }
        return pid
    }

    static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
