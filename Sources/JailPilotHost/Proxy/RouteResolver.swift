import FoundationEssentials
import JailPilotCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A tiny authoritative DNS responder for `<app>.jailpilot.internal.`: Caddy's `a` dynamic
/// upstreams ask it where each app lives.
///
/// It answers A queries from the route table (re-read whenever the file changes), NODATA for
/// other types of a known app, NXDOMAIN otherwise. It holds no state of its own. Caddy fails
/// requests while it cannot resolve, so two processes answer on the same UDP port (a shared
/// port, `socketReusePort`): `jailpilot resolver`, its own small service, and the agent. Either
/// may restart or die while the other answers.
public final class RouteResolver: @unchecked Sendable {
    public static let zone = "jailpilot.internal"
    private let stateDir: String
    private var table = RouteTable()
    private var stamp: String?

    public init(stateDir: String) { self.stateDir = stateDir }

    /// The name Caddy resolves for `app` (fully qualified, so no search domains apply).
    public static func name(for app: String) -> String { "\(app).\(zone)." }

    /// Answers queries until `stop` returns true (checked at least every 200 ms). Before it
    /// closes the socket it answers every query already queued on it: a query left in a closed
    /// socket's queue is lost, and Caddy's lookup then waits out its resolver timeout.
    public func serve(on address: String, until stop: () -> Bool) throws {
        let fd = try bind(address)
        defer { close(fd) }
        var limit = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 512)
        while !stop() { _ = answerOne(fd, &buffer, flags: 0) }
        while answerOne(fd, &buffer, flags: Int32(MSG_DONTWAIT)) {}
    }

    /// Receives one datagram and answers it; false when none was there.
    private func answerOne(_ fd: Int32, _ buffer: inout [UInt8], flags: Int32) -> Bool {
        var peer = sockaddr_storage()
        var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let n = withUnsafeMutablePointer(to: &peer) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buffer, buffer.count, flags, $0, &peerLength) }
        }
        guard n > 0 else { return false }
        guard let reply = answer(Array(buffer[0..<n])) else { return true }
        _ = withUnsafePointer(to: &peer) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, reply, reply.count, 0, $0, peerLength) }
        }
        return true
    }

    /// The socket address of an IPv4 `host:port` such as `127.0.0.1:5354`.
    static func socketAddress(_ address: String) throws -> sockaddr_in {
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else {
            throw HTTPError(endpoint: address, message: "resolver address must be host:port, e.g. 127.0.0.1:5354")
        }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        guard let ip = IPv4Network.socketAddress(String(address[..<colon])) else {
            throw HTTPError(endpoint: address, message: "resolver host must be an IPv4 address")
        }
        sin.sin_addr = ip
        return sin
    }

    /// Binds a UDP socket on an IPv4 `host:port`.
    func bind(_ address: String) throws -> Int32 {
        var sin = try Self.socketAddress(address)
        let fd = socket(AF_INET, socketDatagram, 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        // Shared with the other answering process (the agent, or a resolver being restarted):
        // while one of them is down, the other answers every query.
        setsockopt(fd, SOL_SOCKET, socketReusePort, &yes, socklen_t(MemoryLayout<Int32>.size))
        let rc = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard fd >= 0, rc == 0 else {
            throw HTTPError(
                endpoint: address, message: "cannot bind: \(String(cString: strerror(errno))) (is another resolver running?)")
        }
        return fd
    }

    /// The reply to one DNS query packet, or nil for packets that are not a plain query.
    public func answer(_ query: [UInt8]) -> [UInt8]? {
        guard query.count >= 12, query[2] & 0x80 == 0, query[4] == 0, query[5] == 1 else { return nil }
        var index = 12
        var labels: [String] = []
        while index < query.count, query[index] != 0 {
            let length = Int(query[index])
            guard length < 64, index + 1 + length < query.count else { return nil }
            labels.append(String(decoding: query[(index + 1)...(index + length)], as: UTF8.self).lowercased())
            index += 1 + length
        }
        guard index + 5 <= query.count else { return nil }
        let question = Array(query[12...(index + 4)])
        let type = UInt16(query[index + 1]) << 8 | UInt16(query[index + 2])
        var reply = Array(query[0..<2]) + [0x84 | (query[2] & 0x01), 0x00, 0, 1, 0, 0, 0, 0, 0, 0] + question
        let zoneLabels = Self.zone.split(separator: ".").map(String.init)
        guard labels.count == zoneLabels.count + 1, Array(labels.dropFirst()) == zoneLabels,
            let address = currentTable().addresses[labels[0]]
        else {
            reply[3] = 3  // NXDOMAIN
            return reply
        }
        guard type == 1, let ip = IPv4Network.parse(address) else { return reply }  // NODATA
        reply[7] = 1  // one answer
        reply += [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4]
        reply += [UInt8(ip >> 24), UInt8(ip >> 16 & 0xff), UInt8(ip >> 8 & 0xff), UInt8(ip & 0xff)]
        return reply
    }

    private func currentTable() -> RouteTable {
        let now = FileIO.stamp(RouteTable.path(stateDir: stateDir))
        if now != stamp {
            table = now == nil ? RouteTable() : RouteTable.load(stateDir: stateDir)
            stamp = now
        }
        return table
    }
}

extension RouteResolver {
    /// Asks the resolver at `address` (`127.0.0.1:5354`) where `app` lives, as Caddy does: the
    /// address it answers, nil for NXDOMAIN or no A record, or an error when nothing answered
    /// within `timeout`.
    public static func lookup(app: String, at address: String, timeout: Duration = .seconds(1)) throws -> String? {
        var sin = try socketAddress(address)
        let fd = socket(AF_INET, socketDatagram, 0)
        guard fd >= 0 else { throw HTTPError(endpoint: address, message: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var limit = timeval(
            tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let id = UInt16.random(in: 0...UInt16.max)
        var query: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xff), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name(for: app).split(separator: ".") {
            query.append(UInt8(label.utf8.count))
            query += Array(label.utf8)
        }
        query += [0, 0, 1, 0, 1]
        let sent = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, query, query.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard sent == query.count else {
            throw HTTPError(endpoint: address, message: "send: \(String(cString: strerror(errno)))")
        }
        var reply = [UInt8](repeating: 0, count: 512)
        let n = recv(fd, &reply, reply.count, 0)
        guard n > 0 else {
            throw HTTPError(endpoint: address, message: "no answer (\(n < 0 ? String(cString: strerror(errno)) : "empty reply"))")
        }
        return try parseLookup(Array(reply[0..<n]), id: id, questionLength: query.count - 12, endpoint: address)
    }

    /// The A record in a reply to the query `lookup` sends (whose question is echoed back).
    static func parseLookup(_ reply: [UInt8], id: UInt16, questionLength: Int, endpoint: String) throws -> String? {
        guard reply.count >= 12, UInt16(reply[0]) << 8 | UInt16(reply[1]) == id else {
            throw HTTPError(endpoint: endpoint, message: "malformed reply")
        }
        if reply[3] & 0x0f == 3 { return nil }  // NXDOMAIN
        guard reply[3] & 0x0f == 0 else { throw HTTPError(endpoint: endpoint, message: "error reply \(reply[3] & 0x0f)") }
        let answers = Int(reply[6]) << 8 | Int(reply[7])
        var index = 12 + questionLength
        for _ in 0..<answers {
            // The resolver compresses the answer's name to a pointer at the question (2 bytes).
            guard index + 12 <= reply.count, reply[index] & 0xc0 == 0xc0 else { break }
            let type = Int(reply[index + 2]) << 8 | Int(reply[index + 3])
            let length = Int(reply[index + 10]) << 8 | Int(reply[index + 11])
            index += 12
            guard index + length <= reply.count else { break }
            if type == 1, length == 4 { return reply[index..<index + 4].map(String.init).joined(separator: ".") }
            index += length
        }
        return nil
    }
}
