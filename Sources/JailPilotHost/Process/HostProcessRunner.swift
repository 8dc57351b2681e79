import CSpawn
import FoundationEssentials
import JailPilotCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs commands for real with posix_spawn, each in its own process group.
///
/// Blocking waits and pipe reads happen on dedicated threads, never on Swift's cooperative pool.
/// On timeout or task cancellation the whole group gets SIGTERM, then SIGKILL after `killGrace`.
public struct HostProcessRunner: ProcessRunning {
    /// Time between SIGTERM and SIGKILL when a child is stopped early.
    public var killGrace: Duration

    public init(killGrace: Duration = .seconds(3)) { self.killGrace = killGrace }

    public func run(
        _ command: Command, stdout: OutputTarget, stderr: OutputTarget, timeout: Duration?
    ) async throws -> ProcessResult {
        let environment = command.environment ?? ProcessInfo.processInfo.environment
        let path = try Self.resolve(command.executable, path: environment["PATH"] ?? "/usr/bin:/bin")

        var parentEnds: [Int32] = []
        var childEnds: [Int32] = []
        defer { childEnds.forEach { _ = close($0) } }
        func childEnd(for target: OutputTarget) throws -> (child: Int32, reader: Int32?) {
            switch target {
            case .capture:
                var fds: [Int32] = [0, 0]
                guard jp_pipe_cloexec(&fds) == 0 else { throw ProcessError.spawnFailed(command: command, errno: errno) }
                childEnds.append(fds[1])
                parentEnds.append(fds[0])
                return (fds[1], fds[0])
            case .append(let file):
                let fd = openFile(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
                guard fd >= 0 else { throw ProcessError.spawnFailed(command: command, errno: errno) }
                childEnds.append(fd)
                return (fd, nil)
            case .discard:
                let fd = openFile("/dev/null", O_WRONLY | O_CLOEXEC, 0)
                childEnds.append(fd)
                return (fd, nil)
            }
        }
        let standardInput = openFile(command.input ?? "/dev/null", O_RDONLY | O_CLOEXEC, 0)
        guard standardInput >= 0 else { throw ProcessError.spawnFailed(command: command, errno: errno) }
        childEnds.append(standardInput)
        let out = try childEnd(for: stdout)
        let err = try childEnd(for: stderr)

        let env = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let spawned = Spawn.start(
            path: path, argv: [command.executable] + command.arguments, env: env,
            directory: command.workingDirectory, stdin: standardInput, stdout: out.child, stderr: err.child)
        let pid: pid_t
        switch spawned {
        case .success(let p): pid = p
        case .failure(let e):
            parentEnds.forEach { _ = close($0) }
            throw ProcessError.spawnFailed(command: command, errno: e.code)
        }
        childEnds.forEach { _ = close($0) }
        childEnds = []

        async let outData = Self.readAll(out.reader)
        async let errData = Self.readAll(err.reader)
        let killer = GroupKiller(pid: pid, grace: killGrace)
        let timer = timeout.map { limit in
            Task {
                try await Task.sleep(for: limit)
                killer.stop(timedOut: true)
            }
        }
        let status = await withTaskCancellationHandler {
            await Self.wait(pid)
        } onCancel: {
            killer.stop(timedOut: false)
        }
        timer?.cancel()
        killer.reaped()
        return ProcessResult(status: status, timedOut: killer.didTimeOut, stdout: await outData, stderr: await errData)
    }

    /// Finds `name` in `path` unless it already contains a slash.
    package static func resolve(_ name: String, path: String) throws -> String {
        if name.contains("/") { return name }
        for dir in path.split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw ProcessError.notFound(executable: name, path: path)
    }

    // Waiting and reading run on the blocking pool's reused threads: a thread per call made
    // three new threads per command, each able to take its own malloc arena.
    private static func wait(_ pid: pid_t) async -> Int32 {
        await BlockingPool.shared.perform {
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) == -1 && errno == EINTR {}
            let signal = raw & 0x7f
            return signal == 0 ? (raw >> 8) & 0xff : 128 + signal
        }
    }

    private static func readAll(_ fd: Int32?) async -> Data {
        guard let fd else { return Data() }
        return await BlockingPool.shared.perform {
            var data = Data()
            var buffer = [UInt8](repeating: 0, count: 16384)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 { data.append(contentsOf: buffer[0..<n]) } else if n == 0 || errno != EINTR { break }
            }
            close(fd)
            return data
        }
    }
}

/// Sends SIGTERM then SIGKILL to a process group, at most once, never after it was reaped.
private final class GroupKiller: @unchecked Sendable {
    private let lock = Lock()
    private let pid: pid_t
    private let grace: Duration
    private var done = false
    private var stopping = false
    private var timedOut = false

    init(pid: pid_t, grace: Duration) {
        self.pid = pid
        self.grace = grace
    }

    var didTimeOut: Bool { lock.withLock { timedOut } }

    func reaped() { lock.withLock { done = true } }

    func stop(timedOut: Bool) {
        let proceed = lock.withLock { () -> Bool in
            if done || stopping { return false }
            stopping = true
            self.timedOut = timedOut
            return true
        }
        guard proceed else { return }
        kill(-pid, SIGTERM)
        let pid = self.pid
        let grace = self.grace
        Task {
            try? await Task.sleep(for: grace)
            // The group may outlive its leader; killing an empty group is harmless.
            kill(-pid, SIGKILL)
        }
    }
}

@inline(__always)
private func openFile(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 {
    open(path, flags, mode)
}
