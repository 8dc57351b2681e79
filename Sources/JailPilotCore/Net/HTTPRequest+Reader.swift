extension HTTPRequest {
    /// Parses a request as it arrives, keeping its place between reads: the head is searched
    /// for its end from where the last read stopped and parsed once; a Content-Length body is
    /// then only counted, a chunked one decoded on from where it stopped (HTTPChunkedBody). The
    /// work of a request is linear in its bytes, however many reads bring them, and bounded by
    /// `limits`. What it says of a buffer is what `HTTPRequest.parse` says of it.
    public struct Reader: Sendable {
        /// What the request may take; passing one is a 4xx.
        public let limits: Limits
        /// Where the search for the head's end goes on.
        private var scan = 0
        /// The head once parsed: the request without its body, where the body starts, its framing.
        private var request: HTTPRequest?
        private var bodyStart = 0
        private var framing: Framing?
        private var chunked: HTTPChunkedBody?
        /// Whether `parsed` is final (complete or refused).
        private var settled = false
        /// What the last `read` found; once not `.incomplete`, it stays.
        public private(set) var parsed: Parsed = .incomplete
        /// Bytes of input the parser has looked at (each at most a few times): its work.
        public private(set) var examined = 0

        public init(limits: Limits = Limits()) { self.limits = limits }

        /// `bytes`: everything read so far (each call's a prefix of the next's).
        public mutating func read(_ bytes: [UInt8]) -> Parsed {
            guard !settled else { return parsed }
            if framing == nil {
                guard let end = findHeadEnd(bytes) else {
                    return bytes.count > limits.head
                        ? settle(.refused(431, "the request head is over \(limits.head) bytes")) : parsed
                }
                examined += end.lineEnd
                switch HTTPRequest.parseHead(bytes, end: end, limits: limits) {
                case .refused(let status, let reason):
                    return settle(.refused(status, reason))
                case .head(let head):
                    (request, bodyStart, framing) = (head.request, head.bodyStart, head.framing)
                }
            }
            switch framing {
            case nil:
                return parsed
            case .none?:
                return settle(.complete(request ?? HTTPRequest(method: "", target: "", headers: [:], body: [])))
            case .length(let length)?:
                guard bytes.count - bodyStart >= length else { return parsed }
                examined += length
                return settle(body: Array(bytes[bodyStart..<(bodyStart + length)]))
            case .chunked?:
                // Taken out, not copied: the body it holds is appended to in place.
                var decoder = chunked.take() ?? HTTPChunkedBody(start: bodyStart, limits: limits)
                switch decoder.advance(bytes, examined: &examined) {
                case .incomplete:
                    chunked = decoder
                    return parsed
                case .refused(let status, let reason): return settle(.refused(status, reason))
                case .complete(let body): return settle(body: body)
                }
            }
        }

        /// Makes `outcome` what every later read says.
        private mutating func settle(_ outcome: Parsed) -> Parsed {
            parsed = outcome
            settled = true
            return outcome
        }

        /// The request with `body`, as every later read says.
        private mutating func settle(body: [UInt8]) -> Parsed {
            var complete = request ?? HTTPRequest(method: "", target: "", headers: [:], body: [])
            complete.body = body
            return settle(.complete(complete))
        }

        /// Where the head ends (the index past its last field line, and where the body starts),
        /// searched from where the last read stopped. Lines end in CRLF, or a bare LF (RFC 9112
        /// §2.2 lets a recipient accept it).
        private mutating func findHeadEnd(_ bytes: [UInt8]) -> (lineEnd: Int, bodyStart: Int)? {
            let n = min(bytes.count, limits.head + 4)
            while scan < n {
                let i = scan
                examined += 1
                if bytes[i] == 0x0A {
                    // An LF at the end of what arrived, or LF CR there: look again once more comes.
                    guard i + 1 < bytes.count else { return nil }
                    if bytes[i + 1] == 0x0A { return (i, i + 2) }
                    if bytes[i + 1] == 0x0D {
                        guard i + 2 < bytes.count else { return nil }
                        if bytes[i + 2] == 0x0A { return (i, i + 3) }
                    }
                }
                scan += 1
            }
            return nil
        }
    }
}
