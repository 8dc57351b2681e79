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

/// A small blocking stream listener on loopback TCP or a unix socket, for what only local
/// peers talk to: Caddy forwarding forge webhooks, `jailpilot trigger`. Each connection is read
/// with a deadline and a size cap and handled on a thread of its own, at most `concurrency` at
/// once (others are closed at once); nothing it reads can hold it past the deadline.
public final class StreamServer: @unchecked Sendable {
    /// Where it listens: `127.0.0.1:PORT` (loopback only) or a unix socket path.
    public typealias Address = StreamServerAddress

    public let address: Address
    let fd: Int32
    /// A pipe `stop()` writes to: `serve` sleeps in poll(2) on it and the socket, no timer.
    private let wake: (read: Int32, write: Int32)
    let concurrency: Int
    private let active = Lock()
    private var running = 0

    /// Binds `address` now (a unix socket gets `mode`; a stale one is replaced), so that a
    /// port in use is an error at start, not later.
    public init(_ address: Address, mode: mode_t = 0o600, concurrency: Int = 4) throws {
        self.address = address
        self.concurrency = concurrency
        var pipeFDs: [Int32] = [-1, -1]
        guard jp_pipe_cloexec(&pipeFDs) == 0 else { throw Self.error("pipe", address) }
        wake = (pipeFDs[0], pipeFDs[1])
        switch address {
        case .loopback(let port):
            fd = socket(AF_INET, socketStream, 0)
            guard fd >= 0 else { throw Self.error("socket", address) }
            var yes: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            sin.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            let rc = withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else {
                let error = Self.error("bind", address)
                close(fd)
                throw error
            }
        case .unix(let path):
            try Self.checkLength(path)
            fd = socket(AF_UNIX, socketStream, 0)
            guard fd >= 0 else { throw Self.error("socket", address) }
            unlink(path)
            var sun = sockaddr_un()
            sun.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &sun.sun_path) { raw in
                for (i, byte) in path.utf8.enumerated() where i < raw.count - 1 { raw[i] = byte }
            }
            // The socket file is made with the umask's mode: nobody but the owner, from the start.
            let old = umask(0o177)
            let rc = withUnsafePointer(to: &sun) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            umask(old)
            guard rc == 0 else {
                let error = Self.error("bind", address)
                close(fd)
                throw error
            }
            chmod(path, mode)
        }
        guard listen(fd, 64) == 0 else {
            let error = Self.error("listen", address)
            close(fd)
            throw error
        }
    }

    /// A longer path would be cut short by the copy into sun_path: bound (or asked for) under a
    /// name nobody else uses.
    static func checkLength(_ path: String) throws {
        guard path.utf8.count > Address.longestPath else { return }
        throw HTTPError(
            endpoint: path,
            message:
                "a unix socket path holds at most \(Address.longestPath) bytes (FreeBSD's sun_path) and this is \(path.utf8.count): give state_dir a shorter path"
        )
    }

    static func error(_ call: String, _ address: Address) -> HTTPError {
        HTTPError(endpoint: "\(address)", message: "\(call): \(String(cString: strerror(errno)))")
    }

    /// Ends `serve` (from any thread); the socket is closed and a unix socket's file removed.
    public func stop() {
        var byte: UInt8 = 1
        _ = Glibc.write(wake.write, &byte, 1)
    }

    /// Accepts until `stop()`, then closes the socket. Each connection goes to `handle` on a
    /// thread of its own. Between connections the thread sleeps in poll(2): no wakeups.
    public func serve(_ handle: @escaping @Sendable (Connection) -> Void) {
        defer {
            close(fd)
            close(wake.read)
            close(wake.write)
            if case .unix(let path) = address { unlink(path) }
        }
        while true {
            var ready = [
                pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0),
            ]
            guard poll(&ready, 2, -1) > 0 else { continue }
            if ready[1].revents != 0 { return }
            let client = jp_accept_cloexec(fd)
            guard client >= 0 else {
                // Out of descriptors (EMFILE/ENFILE) or memory: the pending connection stays in
                // the backlog and poll(2) says ready again at once, so pause instead of spinning
                // a core until one frees up.
                if errno != EINTR && errno != EAGAIN && errno != ECONNABORTED { usleep(100_000) }
                continue
            }
            let admitted = active.withLock {
                guard running < concurrency else { return false }
                running += 1
                return true
            }
            guard admitted else {
                close(client)
                continue
            }
            let connection = Connection(fd: client)
            let started = detachThread { [self] in
                handle(connection)
                connection.close()
                active.withLock { running -= 1 }
            }
            if !started {
                connection.close()
                active.withLock { running -= 1 }
            }
        }
    }

    /// Sends `bytes` to the unix socket at `path` and returns what comes back until the peer
    /// closes (at most 64 KiB), within `timeout`: the client side of the control socket.
    public static func exchange(unix path: String, _ bytes: [UInt8], timeout: Duration) throws -> [UInt8] {
        try checkLength(path)
        let fd = socket(AF_UNIX, socketStream, 0)
        guard fd >= 0 else { throw error("socket", .unix(path: path)) }
        let connection = Connection(fd: fd)
        defer { connection.close() }
        var sun = sockaddr_un()
        sun.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &sun.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() where i < raw.count - 1 { raw[i] = byte }
        }
        let rc = withUnsafePointer(to: &sun) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { throw error("connect", .unix(path: path)) }
        connection.write(bytes)
        let (reply, timedOut) = connection.read(limit: 64 * 1024, deadline: .now + timeout) { _ in false }
        if timedOut && reply.isEmpty {
            throw HTTPError(endpoint: path, message: "no answer within \(DurationText.format(timeout))")
        }
        return reply
    }

    /// One accepted connection.
    public final class Connection: @unchecked Sendable {
        let fd: Int32
        private var closed = false

        init(fd: Int32) { self.fd = fd }

        /// Reads until `done` says the bytes so far are enough, `limit` bytes have come, the peer
        /// closes, or `deadline` passes; returns what came (and whether the deadline cut it short).
        public func read(limit: Int, deadline: ContinuousClock.Instant, done: ([UInt8]) -> Bool) -> (
            bytes: [UInt8], timedOut: Bool
        ) {
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            while bytes.count < limit {
                let left = ContinuousClock.now.duration(to: deadline)
                guard left > .zero else { return (bytes, true) }
                var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let millis = Int32(
                    min(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1, 60_000))
                guard poll(&ready, 1, millis) > 0 else { continue }
                let n = recv(fd, &buffer, min(buffer.count, limit - bytes.count), 0)
                guard n > 0 else { break }
                bytes += buffer[0..<n]
                if done(bytes) { break }
            }
            return (bytes, false)
        }

        /// Writes all of `bytes` (best effort: a peer that went away is not an error here; the
        /// agent ignores SIGPIPE).
        public func write(_ bytes: [UInt8]) {
            var sent = 0
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                guard n > 0 else { return }
                sent += n
            }
        }

        /// Says it has finished writing (a FIN), then reads and drops what the peer still sends,
        /// up to `limit` bytes or `deadline`, before the close: closing with unread input sends
        /// an RST, which can reach the peer before the answer does (a proxy then reports 502
        /// instead of the 413 it was sent). What web servers call a lingering close.
        public func lingeringClose(limit: Int, deadline: ContinuousClock.Instant) {
            _ = shutdown(fd, JP_SHUT_WR)
            var left = limit
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while left > 0 {
                let remaining = ContinuousClock.now.duration(to: deadline)
                guard remaining > .zero else { break }
                var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&ready, 1, Int32(max(1, min(remaining.components.seconds * 1000 + 1, 5000)))) > 0 else { continue }
                let n = recv(fd, &buffer, min(buffer.count, left), 0)
                guard n > 0 else { break }
                left -= n
            }
            close()
        }

        func close() {
            guard !closed else { return }
            closed = true
            _ = Glibc.close(fd)
        }
    }
}
