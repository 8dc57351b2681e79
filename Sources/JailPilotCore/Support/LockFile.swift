import FoundationEssentials
import Glibc

/// An exclusive, non-blocking flock on a file that records the holder's pid. The kernel drops
/// it when the process exits, even by kill -9, so a stale lock never needs cleaning up.
package final class LockFile: @unchecked Sendable {
    private var fd: Int32
    private let mutex = Lock()

    /// How long a lock found held is asked for again before it counts as held. A process that
    /// spawns a command copies its descriptors into the child, which holds every flock of the
    /// parent's until it execs: a lock just released can look held for a moment.
    package static let patience: Duration = .seconds(1)

    /// Takes the lock, or returns the pid written by whoever holds it.
    package static func acquire(_ path: String) throws -> Result<LockFile, HeldBy> {
        try FileIO.makeDirectories(FileIO.parent(path), mode: 0o750)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileIOError(operation: "open", path: path, code: errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buffer, 32, 0)
            close(fd)
            let pid = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmedWhitespace : "?"
            return .failure(HeldBy(pid: pid))
        }
        ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return .success(LockFile(fd: fd))
    }

    private init(fd: Int32) { self.fd = fd }

    /// Gives the lock up; idempotent.
    package func release() {
        mutex.withLock {
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }

    deinit { release() }

    /// Runs `body` holding an exclusive flock on `path`, waiting for it: serialises a short
    /// critical section between the tasks of one process and between processes alike (each
    /// call opens its own descriptor, and flock locks belong to open descriptors).
    package static func withExclusive<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileIOError(operation: "open", path: path, code: errno) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw FileIOError(operation: "flock", path: path, code: errno) }
        }
        return try body()
    }

    /// `withExclusive` for a critical section that awaits (a host command): the flock is held
    /// by the descriptor, whichever thread the body resumes on. It waits without blocking a
    /// thread (LOCK_NB, retried every few milliseconds): a waiter parked in flock(2) would hold
    /// one of the few threads of Swift's cooperative pool, and with as many waiters as threads
    /// the holder could never resume to release it.
    package static func withExclusive<T>(_ path: String, _ body: () async throws -> T) async throws -> T {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileIOError(operation: "open", path: path, code: errno) }
        defer { close(fd) }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                throw FileIOError(operation: "flock", path: path, code: errno)
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        return try await body()
    }

    /// The pid of the process holding a lock.
    package struct HeldBy: Error { package var pid: String }
}
