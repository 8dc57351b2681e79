import FoundationEssentials

/// One HTTP/1.1 request as the webhook listener reads it (RFC 9112), bounded (Limits): a request
/// line and header section of at most `headLimit` bytes and 100 fields, a body of at most
/// `bodyLimit` bytes, given by Content-Length or chunked (never both: RFC 9112 §6.3 calls that
/// an attack), a chunked one in a bounded number of chunks. Reader parses it as it arrives.
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    /// The request target as sent (origin-form: `/path?query`).
    public var target: String
    /// Field names lowercased; a repeated field's values joined with ", " (RFC 9110 §5.3).
    public var headers: [String: String]
    public var body: [UInt8]

    public init(method: String, target: String, headers: [String: String], body: [UInt8]) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
    }

    /// The path of `target`, without its query.
    public var path: Substring { target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0] }

    public static let headLimit = 16 * 1024
    public static let bodyLimit = 1 << 20

    /// What one request may take, each refused with a 4xx once passed: the parser's work is
    /// linear in the bytes these allow.
    public struct Limits: Sendable, Equatable {
        /// The request line and header fields.
        public var head = HTTPRequest.headLimit
        /// The body, decoded.
        public var body = HTTPRequest.bodyLimit
        /// Chunks of a chunked body (a forge sends its few KiB in one, or with Content-Length).
        public var chunks = 4096
        /// A chunked body's sizes, extensions and line ends.
        public var framing = 64 * 1024
        /// A chunked body's trailer fields.
        public var trailers = HTTPRequest.headLimit

        public init() {}

        /// The most input a request within these limits can be.
        public var wire: Int { head + 4 + body + framing + trailers + 2 }
    }

    /// What a buffer holds so far.
    public enum Parsed: Sendable, Equatable {
        /// More bytes are needed (none of the limits is passed yet).
        case incomplete
        case complete(HTTPRequest)
        /// The request is refused with this status (400, 413, 431, 501, 505) and reason.
        case refused(Int, String)
    }

    /// How the body after a head is framed (RFC 9112 §6.3).
    enum Framing: Sendable, Equatable {
        case none
        case length(Int)
        case chunked
    }

    /// A parsed request head: the request without its body, where the body starts, its framing.
    struct Head: Sendable, Equatable {
        var request: HTTPRequest
        var bodyStart: Int
        var framing: Framing
    }

    /// What a request head says.
    enum HeadParsed: Sendable, Equatable {
        case head(Head)
        case refused(Int, String)
    }

    /// Parses `bytes`, the start of a connection's input (a Reader given it in one read).
    public static func parse(_ bytes: [UInt8], limits: Limits = Limits()) -> Parsed {
        var reader = Reader(limits: limits)
        return reader.read(bytes)
    }

    /// Parses the request line and header fields of `bytes`, whose head ends at `headEnd`
    /// (Reader finds it), and how its body is framed.
    static func parseHead(_ bytes: [UInt8], end headEnd: (lineEnd: Int, bodyStart: Int), limits: Limits) -> HeadParsed {
        let headLimit = limits.head, bodyLimit = limits.body
        guard headEnd.lineEnd <= headLimit else { return .refused(431, "the request head is over \(headLimit) bytes") }
        let lines = Self.lines(bytes[..<headEnd.lineEnd])
        guard let requestLine = lines.first else { return .refused(400, "no request line") }
        let parts = requestLine.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(Self.isTokenByte), parts[1].first == UInt8(ascii: "/"),
            parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7f })
        else { return .refused(400, "a malformed request line") }
        let version = String(decoding: parts[2], as: UTF8.self)
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else { return .refused(505, "not HTTP/1.x") }
        var headers: [String: String] = [:]
        let fields = lines.dropFirst()
        guard fields.count <= 100 else { return .refused(431, "more than 100 header fields") }
        for line in fields {
            // RFC 9112 §5.1: no whitespace before the colon; obs-fold (a line starting with space) is refused.
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
                line[..<colon].allSatisfy(Self.isTokenByte)
            else { return .refused(400, "a malformed header field") }
            let value = line[line.index(after: colon)...]
            guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7f) }) else {
                return .refused(400, "a control character in a header field")
            }
            let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
            let text = String(decoding: value, as: UTF8.self).trimmedWhitespace
            headers[name] = headers[name].map { "\($0), \(text)" } ?? text
        }
        let request = HTTPRequest(
            method: String(decoding: parts[0], as: UTF8.self), target: String(decoding: parts[1], as: UTF8.self),
            headers: headers, body: [])
        if let encoding = headers["transfer-encoding"] {
            guard headers["content-length"] == nil else { return .refused(400, "both Content-Length and Transfer-Encoding") }
            guard encoding.lowercased() == "chunked" else {
                return .refused(501, "Transfer-Encoding '\(encoding.escapingControls)'")
            }
            return .head(Head(request: request, bodyStart: headEnd.bodyStart, framing: .chunked))
        }
        guard let lengthText = headers["content-length"] else {
            return .head(Head(request: request, bodyStart: headEnd.bodyStart, framing: .none))
        }
        // RFC 9110 §8.6: 1*DIGIT; a list of equal values is allowed, anything else is refused.
        let values = Set(lengthText.split(separator: ",").map { $0.trimmedWhitespace })
        guard values.count == 1, let text = values.first, !text.isEmpty, text.count <= 15,
            text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let length = Int(text)
        else { return .refused(400, "a malformed Content-Length") }
        guard length <= bodyLimit else { return .refused(413, "a body of \(length) bytes, over \(bodyLimit)") }
        return .head(Head(request: request, bodyStart: headEnd.bodyStart, framing: .length(length)))
    }

    static func lines(_ head: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        head.split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
            line.last == 0x0D ? line.dropLast() : line
        }.filter { !$0.isEmpty }
    }

    /// RFC 9110 §5.6.2 tchar.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return tokenPunctuation.contains(byte)
        }
    }

    private static let tokenPunctuation = Array("!#$%&'*+-.^_`|~".utf8)
}
