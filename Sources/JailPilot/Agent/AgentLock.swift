import FoundationEssentials

/// One agent per state_dir: a lock on `state_dir/agent.lock`, held for the process's life.
public final class AgentLock: Sendable {
    private let file: LockFile

    /// Takes the lock or throws, naming the pid that holds it.
    public init(stateDir: String) throws {
        switch try LockFile.acquire(StateLayout(root: stateDir).lockFile) {
        case .success(let file): self.file = file
        case .failure(let held): throw AgentAlreadyRunning(stateDir: stateDir, pid: held.pid)
        }
    }

    /// Lets another agent take over (after a drain); idempotent.
    public func release() { file.release() }
}

/// A second agent was started on the same state_dir.
public struct AgentAlreadyRunning: Error, CustomStringConvertible {
    public var stateDir: String
    public var pid: String
    public var description: String {
        "another jailpilot agent (pid \(pid)) is running with state_dir \(stateDir); only one may run per state_dir"
    }
}
