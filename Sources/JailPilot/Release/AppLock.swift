import Foundation

/// An exclusive per-app lock (flock on `state_dir/locks/<app>.lock`) so that two deploys or
/// rollbacks of one app never interleave. Released when the process exits, even by kill -9.
public final class AppLock: @unchecked Sendable {
    private let fd: Int32

    /// Takes the lock or throws `DeployError.busy` naming the holder.
    public init(stateDir: String, app: String) throws {
        let dir = "\(stateDir)/locks"
        try FileIO.makeDirectories(dir)
        let path = "\(dir)/\(app).lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileIOError(operation: "open", path: path, code: errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = read(fd, &buffer, 32)
            let holder =
                n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            close(fd)
            throw DeployError.busy(app: app, holder: holder)
        }
        ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
