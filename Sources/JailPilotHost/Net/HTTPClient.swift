import FoundationEssentials
import JailPilotCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An HTTP response: status, lower-cased headers and body.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: Data
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A failed HTTP exchange, naming the endpoint and the step.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public var endpoint: String
    public var message: String
    public var description: String { "\(endpoint): \(message)" }
}

/// Where an HTTP server listens: TCP `host:port` (IPv4 literal or localhost) or a unix socket.
public enum HTTPEndpoint: Sendable, Hashable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    /// Parses `http://127.0.0.1:2019` or `unix//path/to.sock`.
    public init?(_ text: String) {
        if text.hasPrefix("unix/") {
            let path = String(text.dropFirst("unix/".count))
            guard path.hasPrefix("/") else { return nil }
            self = .unix(path: path)
            return
        }
        guard text.hasPrefix("http://") else { return nil }
        let authority = text.dropFirst("http://".count).prefix { $0 != "/" }
        guard let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]) else {
            return nil
        }
        var host = String(authority[..<colon])
        if host == "localhost" { host = "127.0.0.1" }
        self = .tcp(host: host, port: port)
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): return "http://\(host):\(port)"
        case .unix(let path): return "unix/\(path)"
        }
    }

    /// The Host header: Caddy's admin API wants an empty one over a unix socket.
    var hostHeader: String {
        switch self {
        case .tcp(let host, let port): return "\(host):\(port)"
        case .unix: return ""
        }
    }
}

/// A small blocking HTTP/1.1 client (one request per connection) over POSIX sockets.
///
/// The agent must build on FreeBSD without SwiftNIO, and it only talks to Caddy's admin API
/// and to jails' health endpoints, so this is all it needs: Content-Length and chunked bodies,
/// a deadline on connect and on the whole exchange.
public struct HTTPClient: Sendable {
    public var timeout: Duration

    public init(timeout: Duration = .seconds(5)) { self.timeout = timeout }

    /// Sends one request and reads the whole response.
    public func send(
        _ method: String, _ path: String, to endpoint: HTTPEndpoint, body: Data? = nil, contentType: String = "application/json",
        host: String? = nil, headers: [(String, String)] = []
    ) async throws -> HTTPResponse {
        let timeout = self.timeout
        return try await blocking {
            try Self.exchange(method, path, endpoint, body, contentType, host, timeout, headers: headers)
        }
    }

    static func exchange(
        _ method: String, _ path: String, _ endpoint: HTTPEndpoint, _ body: Data?, _ contentType: String, _ host: String?,
        _ timeout: Duration, headers: [(String, String)] = []
    ) throws -> HTTPResponse {
        let deadline = ContinuousClock.now + timeout
        let fd = try connect(endpoint, deadline: deadline)
        defer { close(fd) }
        var request =
            "\(method) \(path) HTTP/1.1\r\nHost: \(host ?? endpoint.hostHeader)\r\nConnection: close\r\nUser-Agent: jailpilot\r\n"
        if let body { request += "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n" }
        // Header values are ours (signatures, event names): CR and LF could only come from a bug.
        for (name, value) in headers where !(name + value).contains(where: { $0 == "\r" || $0 == "\n" }) {
            request += "\(name): \(value)\r\n"
        }
        request += "\r\n"
        var bytes = Data(request.utf8)
        if let body { bytes.append(body) }
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                try wait(fd, events: Int16(POLLOUT), deadline: deadline, endpoint: endpoint)
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno != EINTR && errno != EAGAIN {
                    throw HTTPError(endpoint: "\(endpoint)", message: "write: \(String(cString: strerror(errno)))")
                }
                if n > 0 { offset += n }
            }
        }
        var response = Data()
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            try wait(fd, events: Int16(POLLIN), deadline: deadline, endpoint: endpoint)
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                response.append(contentsOf: buffer[0..<n])
                if let parsed = try parse(response, endpoint: endpoint) { return parsed }
            } else if n == 0 {
                guard let parsed = try parse(response, endpoint: endpoint, atEOF: true) else {
                    throw HTTPError(endpoint: "\(endpoint)", message: "connection closed before a complete response")
                }
                return parsed
            } else if errno != EINTR && errno != EAGAIN {
                throw HTTPError(endpoint: "\(endpoint)", message: "read: \(String(cString: strerror(errno)))")
            }
        }
    }

    private static func connect(_ endpoint: HTTPEndpoint, deadline: ContinuousClock.Instant) throws -> Int32 {
        let fd: Int32
        let rc: Int32
        switch endpoint {
        case .tcp(let host, let port):
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
            guard let ip = IPv4Network.socketAddress(host) else {
                throw HTTPError(endpoint: "\(endpoint)", message: "not an IPv4 address")
            }
            address.sin_addr = ip
            (fd, rc) = try startConnect(family: AF_INET, to: &address, endpoint: endpoint)
        case .unix(let path):
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let capacity = MemoryLayout.size(ofValue: address.sun_path)
            guard path.utf8.count < capacity else { throw HTTPError(endpoint: "\(endpoint)", message: "socket path too long") }
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: path.utf8)
                raw[path.utf8.count] = 0
            }
            (fd, rc) = try startConnect(family: AF_UNIX, to: &address, endpoint: endpoint)
        }
        if rc != 0 && errno != EINPROGRESS {
            let message = String(cString: strerror(errno))
            close(fd)
            throw HTTPError(endpoint: "\(endpoint)", message: "connect: \(message)")
        }
        do {
            try wait(fd, events: Int16(POLLOUT), deadline: deadline, endpoint: endpoint)
        } catch {
            close(fd)
            throw error
        }
        var soError: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
        if soError != 0 {
            close(fd)
            throw HTTPError(endpoint: "\(endpoint)", message: "connect: \(String(cString: strerror(soError)))")
        }
        return fd
    }

    /// A non-blocking stream socket of `family` with its connect started; returns the fd and
    /// connect's return code (EINPROGRESS is normal).
    private static func startConnect<Address>(family: Int32, to address: inout Address, endpoint: HTTPEndpoint) throws -> (
        Int32, Int32
    ) {
        let fd = socket(family, socketStream, 0)
        guard fd >= 0 else {
            throw HTTPError(endpoint: "\(endpoint)", message: "socket: \(String(cString: strerror(errno)))")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                socketConnect(fd, $0, socklen_t(MemoryLayout<Address>.size))
            }
        }
        return (fd, rc)
    }

    private static func wait(_ fd: Int32, events: Int16, deadline: ContinuousClock.Instant, endpoint: HTTPEndpoint) throws {
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw HTTPError(endpoint: "\(endpoint)", message: "timed out") }
            var item = pollfd(fd: fd, events: events, revents: 0)
            let ms = Int32(min(left.seconds * 1000 + 1, 60_000))
            let rc = poll(&item, 1, ms)
            if rc > 0 { return }
            if rc < 0 && errno != EINTR {
                throw HTTPError(endpoint: "\(endpoint)", message: "poll: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Parses a complete response from `data`, or returns nil when more bytes are needed.
    public static func parse(_ data: Data, endpoint: HTTPEndpoint, atEOF: Bool = false) throws -> HTTPResponse? {
        guard let end = data.firstRange(of: Data("\r\n\r\n".utf8)) else { return nil }
        let head = String(decoding: data[..<end.lowerBound], as: UTF8.self).split(separator: "\r\n")
        guard let statusLine = head.first, statusLine.hasPrefix("HTTP/1."),
            let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "")
        else { throw HTTPError(endpoint: "\(endpoint)", message: "malformed response") }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmedWhitespace
        }
        let rest = Data(data[end.upperBound...])
        if let text = headers["content-length"] {
            // RFC 9110 §8.6: 1*DIGIT. A sign, or a number past what a response here can be, is malformed.
            guard !text.isEmpty, text.count <= 15, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let length = Int(text)
            else { throw HTTPError(endpoint: "\(endpoint)", message: "malformed Content-Length '\(text.escapingControls)'") }
            return rest.count >= length ? HTTPResponse(status: status, headers: headers, body: rest.prefix(length)) : nil
        }
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            return decodeChunked(rest).map { HTTPResponse(status: status, headers: headers, body: $0) }
        }
        if status == 204 || status == 304 { return HTTPResponse(status: status, headers: headers, body: Data()) }
        return atEOF ? HTTPResponse(status: status, headers: headers, body: rest) : nil
    }

    static func decodeChunked(_ data: Data) -> Data? {
        var out = Data()
        var index = data.startIndex
        while true {
            guard let lineEnd = data[index...].firstRange(of: Data("\r\n".utf8)) else { return nil }
            let sizeText = String(decoding: data[index..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            // RFC 9112 §7.1: chunk-size = 1*HEXDIG; no sign, and at most 15 digits so it cannot overflow.
            let digits = sizeText.trimmedWhitespace
            guard !digits.isEmpty, digits.count <= 15, digits.utf8.allSatisfy(\.isASCIIHexDigit),
                let size = Int(digits, radix: 16)
            else { return nil }
            index = lineEnd.upperBound
            if size == 0 { return out }
            guard data.distance(from: index, to: data.endIndex) >= size + 2 else { return nil }
            let chunkEnd = data.index(index, offsetBy: size)
            guard data[chunkEnd] == 0x0D, data[data.index(after: chunkEnd)] == 0x0A else { return nil }
            out.append(data[index..<chunkEnd])
            index = data.index(chunkEnd, offsetBy: 2)
        }
    }
}

@inline(__always)
private func socketConnect(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    connect(fd, address, length)
}
