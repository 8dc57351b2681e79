import CSpawn
import Foundation
import JailPilot

/// A long-lived HTTP/1.1 request (an event stream) through Caddy on loopback, read on a thread of
/// its own until `close()`.
final class StreamClient: @unchecked Sendable {
    private let fd: Int32
    private let lock = NSLock()
    private var text = ""
    private var closed = false

    init(port: Int, host: String, path: String) throws {
        let fd = try connectLoopback(port)
        self.fd = fd
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host)\r\nAccept: text/event-stream\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var limit = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        Thread.detachNewThread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !self.isClosed {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n == 0 { break }
                if n > 0 { self.lock.withLock { self.text += String(decoding: buffer[0..<n], as: UTF8.self) } }
            }
            self.lock.withLock { self.closed = true }
        }
    }

    private var isClosed: Bool { lock.withLock { closed } }

    /// How many received lines contain `marker`.
    func count(_ marker: String) -> Int {
        lock.withLock { text.components(separatedBy: "\n").filter { $0.contains(marker) }.count }
    }

    func close() {
        lock.withLock { closed = true }
        shutdown(fd, JP_SHUT_RDWR)
        Glibc.close(fd)
    }

    deinit { if !isClosed { close() } }
}
