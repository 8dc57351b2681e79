import FoundationEssentials
import JailPilotCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A long-running child in its own process group (a server for a test, a supervisor).
public final class BackgroundProcess: @unchecked Sendable {
    /// The child's pid, which is also its process group id.
    public let pid: pid_t
    private let lock = Lock()
    private var reaped = false
    private var detached = false

    /// Starts `command` with stdin from /dev/null and output appended to `log` (or discarded).
    public init(_ command: Command, log: String? = nil) throws {
        let environment = command.environment ?? ProcessInfo.processInfo.environment
        let path = try HostProcessRunner.resolve(command.executable, path: environment["PATH"] ?? "/usr/bin:/bin")
        let input = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let output =
            log.map { open($0, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644) } ?? open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer {
            close(input)
            close(output)
        }
        let env = environment.map { "\($0.key)=\($0.value)" }
        switch Spawn.start(
            path: path, argv: [command.executable] + command.arguments, env: env, directory: command.workingDirectory,
            stdin: input, stdout: output, stderr: output)
        {
        case .success(let pid): self.pid = pid
        case .failure(let error): throw ProcessError.spawnFailed(command: command, errno: error.code)
        }
    }

    /// Whether the child is still running (reaps it if it exited).
    public var isRunning: Bool {
        lock.withLock {
            if reaped { return false }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { reaped = true }
            return !reaped
        }
    }

    /// SIGTERM to the group, SIGKILL after `grace`, then reaps the child.
    public func terminate(grace: Duration = .seconds(2)) {
        guard isRunning else { return }
        kill(-pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while isRunning && ContinuousClock.now < deadline { usleep(20_000) }
        if isRunning {
            kill(-pid, SIGKILL)
            lock.withLock {
                var status: Int32 = 0
                _ = waitpid(pid, &status, 0)
                reaped = true
            }
        }
    }

    /// Leaves the child running when this object goes away (a supervisor that outlives the agent).
    public func detach() { lock.withLock { detached = true } }

    deinit {
        if !lock.withLock({ detached }) { terminate() }
    }
}
