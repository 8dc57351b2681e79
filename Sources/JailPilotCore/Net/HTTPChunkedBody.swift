/// A chunked request body (RFC 9112 §7.1) decoded as it arrives: `chunk-size [ext] CRLF data
/// CRLF … 0 [ext] CRLF trailers CRLF`. Its state is kept between reads, so every byte of the
/// connection's input is looked at once, whatever size the reads come in; the body, its chunk
/// count, its framing and its trailers are bounded (HTTPRequest.Limits). Bare LF line ends are
/// accepted, as in the head.
struct HTTPChunkedBody: Sendable {
    /// What the decoder reads next.
    enum State: Sendable, Equatable {
        /// A chunk-size line, which began at `lineStart`.
        case size
        /// This many more bytes of the current chunk's data.
        case data(Int)
        /// The CR or LF after a chunk's data.
        case dataEnd
        /// The LF after that CR.
        case dataLF
        /// A trailer field line, or the empty line that ends the body.
        case trailers
    }

    /// What the input read so far says of the body.
    enum Progress: Sendable, Equatable {
        case incomplete
        case complete([UInt8])
        case refused(Int, String)
    }

    /// Longest chunk-size line, extensions included, without its line end.
    static let sizeLineLimit = 1024

    let limits: HTTPRequest.Limits
    private(set) var state = State.size
    /// The next byte of the connection's input to look at.
    private(set) var position: Int
    /// Where the line being read (a size or a trailer line) began.
    private var lineStart: Int
    private(set) var body: [UInt8] = []
    private(set) var chunks = 0
    /// Bytes that are not data: size lines, extensions, line ends (the trailers count apart).
    private(set) var framing = 0
    private var trailerBytes = 0

    /// A body whose first byte is `start` of the connection's input.
    init(start: Int, limits: HTTPRequest.Limits) {
        self.limits = limits
        position = start
        lineStart = start
    }

    /// Reads on from where the last call stopped; `bytes` is everything read so far (each
    /// call's a prefix of the next's). Adds the bytes it looks at to `examined`.
    mutating func advance(_ bytes: [UInt8], examined: inout Int) -> Progress {
        while position < bytes.count {
            switch state {
            case .data(let left):
                let take = min(left, bytes.count - position)
                body.append(contentsOf: bytes[position..<(position + take)])
                examined += take
                position += take
                state = left == take ? .dataEnd : .data(left - take)
                continue
            case .dataEnd, .dataLF:
                examined += 1
                let byte = bytes[position]
                position += 1
                framing += 1
                if state == .dataEnd && byte == 0x0D {
                    state = .dataLF
                } else if byte == 0x0A {
                    state = .size
                    lineStart = position
                } else {
                    return .refused(400, "chunk \(chunks) does not end in CRLF after its data (the chunk size is wrong?)")
                }
            case .size, .trailers:
                examined += 1
                let byte = bytes[position]
                position += 1
                if let refusal = countLineByte() { return refusal }
                guard byte == 0x0A else { continue }
                var line = bytes[lineStart..<(position - 1)]
                if line.last == 0x0D { line = line.dropLast() }
                lineStart = position
                if state == .size {
                    if let refusal = sizeLine(line) { return refusal }
                } else if line.isEmpty {
                    return .complete(body)
                } else if let refusal = Self.trailerProblem(line) {
                    return refusal
                }
            }
        }
        return .incomplete
    }

    /// Counts one byte of a size or trailer line against its limits.
    private mutating func countLineByte() -> Progress? {
        if state == .trailers {
            trailerBytes += 1
            return trailerBytes > limits.trailers ? .refused(431, "trailer fields over \(limits.trailers) bytes") : nil
        }
        framing += 1
        // The line, less its CR LF (at most two bytes of the count).
        if position - lineStart > Self.sizeLineLimit + 2 {
            return .refused(400, "a chunk size line over \(Self.sizeLineLimit) bytes (chunk \(chunks + 1))")
        }
        if framing > limits.framing {
            return .refused(
                413, "chunk sizes, extensions and line ends over \(limits.framing) bytes: send the body in fewer, larger chunks")
        }
        return nil
    }

    /// Reads a chunk-size line: 1 to 15 hex digits, then extensions (`;name[=value]`, ignored).
    private mutating func sizeLine(_ line: ArraySlice<UInt8>) -> Progress? {
        guard line.count <= Self.sizeLineLimit else {
            return .refused(400, "a chunk size line over \(Self.sizeLineLimit) bytes (chunk \(chunks + 1))")
        }
        let digits = line.prefix { $0 != UInt8(ascii: ";") }
        let extensions = line.dropFirst(digits.count)
        guard !digits.isEmpty, digits.count <= 15, let size = Self.hexValue(digits) else {
            return .refused(
                400,
                "a malformed chunk size '\(String(decoding: digits.prefix(32), as: UTF8.self).escapingControls)' "
                    + "(chunk \(chunks + 1)): 1 to 15 hex digits, then CRLF or ;extensions")
        }
        guard extensions.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
            return .refused(400, "a control character in the extensions of chunk \(chunks + 1)")
        }
        if size == 0 {
            state = .trailers
            return nil
        }
        chunks += 1
        guard chunks <= limits.chunks else {
            return .refused(413, "a body in more than \(limits.chunks) chunks: send it in fewer, larger chunks")
        }
        guard body.count + size <= limits.body else {
            return .refused(413, "a body over \(limits.body) bytes (chunk \(chunks) of \(size) bytes)")
        }
        state = .data(size)
        return nil
    }

    /// The value of 1 to 15 hex digits (no sign, no space: it fits an Int), or nil.
    static func hexValue(_ digits: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for byte in digits {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | Int(digit)
        }
        return value
    }

    /// Why `line` is not a trailer field (`name: value`), or nil; trailers are read and dropped.
    static func trailerProblem(_ line: ArraySlice<UInt8>) -> Progress? {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
            line[..<colon].allSatisfy(HTTPRequest.isTokenByte),
            line[(colon + 1)...].allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) })
        else { return .refused(400, "a malformed trailer field after the last chunk") }
        return nil
    }
}
