import Foundation

/// One agent per state_dir: an flock on `state_dir/agent.lock`, held for the process's life.
public final class AgentLock: @unchecked Sendable {
    private var fd: Int32
    private let mutex = NSLock()

    /// Takes the lock or throws, naming the pid that holds it.
    public init(stateDir: String) throws {
        try FileIO.makeDirectories(stateDir, mode: 0o750)
        let path = StateLayout(root: stateDir).lockFile
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileIOError(operation: "open", path: path, code: errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder =
                (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            close(fd)
            throw AgentAlreadyRunning(stateDir: stateDir, pid: holder)
        }
        ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    /// Lets another agent take over (after a drain); idempotent.
    public func release() {
        mutex.withLock {
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }

    deinit { release() }
}

/// A second agent was started on the same state_dir.
public struct AgentAlreadyRunning: Error, CustomStringConvertible {
    public var stateDir: String
    public var pid: String
    public var description: String {
        "another jailpilot agent (pid \(pid)) is running with state_dir \(stateDir); only one may run per state_dir"
    }
}
