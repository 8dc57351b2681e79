import FoundationEssentials

/// One HTTP/1.1 request as the webhook listener reads it (RFC 9112), bounded: a request line and
/// header section of at most `headLimit` bytes and 100 fields, a body of at most `bodyLimit`
/// bytes, given by Content-Length or chunked (never both: RFC 9112 §6.3 calls that an attack).
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

    /// What a buffer holds so far.
    public enum Parsed: Sendable, Equatable {
        /// More bytes are needed (none of the limits is passed yet).
        case incomplete
        case complete(HTTPRequest)
        /// The request is refused with this status (400, 413, 431, 501, 505) and reason.
        case refused(Int, String)
    }

    /// How the body after a head is framed (RFC 9112 §6.3).
    public enum Framing: Sendable, Equatable {
        case none
        case length(Int)
        case chunked
    }

    /// A parsed request head: the request without its body, where the body starts, its framing.
    public struct Head: Sendable, Equatable {
        public var request: HTTPRequest
        public var bodyStart: Int
        public var framing: Framing
    }

    /// What the start of a connection's input says of its head.
    public enum HeadParsed: Sendable, Equatable {
        case incomplete
        case head(Head)
        case refused(Int, String)
    }

    /// Parses `bytes`, the start of a connection's input.
    public static func parse(_ bytes: [UInt8], bodyLimit: Int = bodyLimit) -> Parsed {
        switch parseHead(bytes, bodyLimit: bodyLimit) {
        case .incomplete: return .incomplete
        case .refused(let status, let reason): return .refused(status, reason)
        case .head(let head): return body(bytes, after: head, limit: bodyLimit)
        }
    }

    /// The request once `bytes` hold all of `head`'s body (`.incomplete` until then): a reader
    /// parses the head once and then only counts bytes, instead of parsing again at every read.
    public static func body(_ bytes: [UInt8], after head: Head, limit: Int = bodyLimit) -> Parsed {
        switch head.framing {
        case .none:
            return .complete(head.request)
        case .length(let length):
            guard bytes.count - head.bodyStart >= length else { return .incomplete }
            var complete = head.request
            complete.body = Array(bytes[head.bodyStart..<(head.bodyStart + length)])
            return .complete(complete)
        case .chunked:
            return chunked(Array(bytes[head.bodyStart...]), request: head.request, limit: limit)
        }
    }

    /// Parses a request as it arrives: the head once, then only counting bytes until the body
    /// is all there (a chunked body is parsed again at each read: forges send Content-Length).
    /// What it says of a buffer is what `parse` says of it.
    public struct Reader: Sendable {
        private var head: Head?
        /// What the last `read` found.
        public private(set) var parsed: Parsed = .incomplete

        public init() {}

        /// `bytes`: everything read so far (each call's a prefix of the next's).
        public mutating func read(_ bytes: [UInt8]) -> Parsed {
            if head == nil {
                switch HTTPRequest.parseHead(bytes) {
                case .incomplete: return .incomplete
                case .refused(let status, let reason):
                    parsed = .refused(status, reason)
                    return parsed
                case .head(let found): head = found
                }
            }
            guard let head else { return .incomplete }
            if case .length(let length) = head.framing, bytes.count - head.bodyStart < length { return .incomplete }
            parsed = HTTPRequest.body(bytes, after: head)
            return parsed
        }
    }

    /// Parses the request line and header fields of `bytes` and how its body is framed.
    public static func parseHead(_ bytes: [UInt8], bodyLimit: Int = bodyLimit) -> HeadParsed {
        guard let headEnd = Self.headEnd(bytes) else {
            return bytes.count > headLimit ? .refused(431, "the request head is over \(headLimit) bytes") : .incomplete
        }
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

    /// Where the head ends: the index past its last field line, and where the body starts.
    /// Lines end in CRLF, or a bare LF (RFC 9112 §2.2 lets a recipient accept it).
    static func headEnd(_ bytes: [UInt8]) -> (lineEnd: Int, bodyStart: Int)? {
        var i = 0
        let n = min(bytes.count, headLimit + 4)
        while i < n {
            if bytes[i] == 0x0A {
                if i + 1 < bytes.count, bytes[i + 1] == 0x0A { return (i, i + 2) }
                if i + 2 < bytes.count, bytes[i + 1] == 0x0D, bytes[i + 2] == 0x0A { return (i, i + 3) }
            }
            i += 1
        }
        return nil
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
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    /// RFC 9112 §7.1: chunk-size [ext] CRLF data CRLF … last-chunk trailers CRLF.
    static func chunked(_ data: [UInt8], request: HTTPRequest, limit: Int) -> Parsed {
        var body: [UInt8] = []
        var index = 0
        /// The next line without its end; nil while it is not all there.
        func line() -> ArraySlice<UInt8>? {
            guard let end = data[index...].firstIndex(of: 0x0A) else { return nil }
            var text = data[index..<end]
            if text.last == 0x0D { text = text.dropLast() }
            index = end + 1
            return text
        }
        while true {
            guard let sizeLine = line() else {
                return data.count - index > 1024 ? .refused(400, "a chunk size line over 1024 bytes") : .incomplete
            }
            let digits = sizeLine.split(separator: UInt8(ascii: ";"), maxSplits: 1, omittingEmptySubsequences: false)[0]
            guard !digits.isEmpty, digits.count <= 15, digits.allSatisfy(\.isASCIIHexDigit),
                let size = Int(String(decoding: digits, as: UTF8.self), radix: 16)
            else { return .refused(400, "a malformed chunk size") }
            if size == 0 {
                // Trailer fields up to the empty line; they are not used.
                while true {
                    guard let trailer = line() else {
                        return data.count - index > HTTPRequest.headLimit ? .refused(431, "trailers over the limit") : .incomplete
                    }
                    if trailer.isEmpty { break }
                }
                var complete = request
                complete.body = body
                return .complete(complete)
            }
            guard body.count + size <= limit else { return .refused(413, "a body over \(limit) bytes") }
            guard data.count - index >= size + 1 else { return .incomplete }
            body += data[index..<index + size]
            index += size
            if data[index] == 0x0D { index += 1 }
            guard index < data.count else { return .incomplete }
            guard data[index] == 0x0A else { return .refused(400, "a chunk without its line end") }
            index += 1
        }
    }
}
