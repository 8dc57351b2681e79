import FoundationEssentials
import Glibc
import JailPilotCore

/// Where a child's standard output or error goes.
public enum OutputTarget: Sendable, Hashable {
    /// Collected in memory and returned in `ProcessResult`.
    case capture
    /// Appended to a file, created with mode 0644 if missing.
    case append(path: String)
    /// Discarded.
    case discard
}

/// How a child ended and what it printed.
public struct ProcessResult: Sendable {
    /// The exit status, or 128 + signal number when killed by a signal.
    public var status: Int32
    /// True when the runner killed the child because its time limit passed.
    public var timedOut: Bool
    /// Captured standard output (empty unless `.capture`).
    public var stdout: Data
    /// Captured standard error (empty unless `.capture`).
    public var stderr: Data

    public init(status: Int32, timedOut: Bool = false, stdout: Data = Data(), stderr: Data = Data()) {
        self.status = status
        self.timedOut = timedOut
        self.stdout = stdout
        self.stderr = stderr
    }

    public var succeeded: Bool { status == 0 && !timedOut }
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

/// Runs commands on the host; the one place where processes are spawned.
public protocol ProcessRunning: Sendable {
    /// Runs `command` to completion (its whole process group is killed after `timeout`).
    func run(_ command: Command, stdout: OutputTarget, stderr: OutputTarget, timeout: Duration?)
        async throws -> ProcessResult
}

extension ProcessRunning {
    /// Runs `command` capturing both streams.
    public func run(_ command: Command, timeout: Duration? = nil) async throws -> ProcessResult {
        try await run(command, stdout: .capture, stderr: .capture, timeout: timeout)
    }

    /// Runs `command` and throws `ProcessError.failed` unless it exits 0.
    @discardableResult
    public func checked(_ command: Command, timeout: Duration? = nil) async throws -> ProcessResult {
        let result = try await run(command, timeout: timeout)
        guard result.succeeded else {
            throw ProcessError.failed(
                command: command, status: result.status, timedOut: result.timedOut, stderr: result.stderrText)
        }
        return result
    }
}

/// A command that could not be started or did not succeed.
public enum ProcessError: Error, CustomStringConvertible {
    case notFound(executable: String, path: String)
    case spawnFailed(command: Command, errno: Int32)
    case failed(command: Command, status: Int32, timedOut: Bool, stderr: String)

    public var description: String {
        switch self {
        case .notFound(let exe, let path):
            return "\(exe): not found in PATH (\(path)); install it or give its absolute path"
        case .spawnFailed(let command, let err):
            return "could not start `\(command)`: \(String(cString: strerror(err)))"
        case .failed(let command, let status, let timedOut, let stderr):
            let tail = stderr.split(separator: "\n").suffix(5).joined(separator: "\n")
            let how = timedOut ? "timed out and was killed" : "exited with status \(status)"
            return "`\(command)` \(how)" + (tail.isEmpty ? "" : ":\n\(tail)")
        }
    }
}
