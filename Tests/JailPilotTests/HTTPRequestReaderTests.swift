import Foundation
import JailPilot
import Testing

/// The webhook listener's reader over a request arriving in pieces: its work (bytes looked at)
/// is linear in the input whatever the reads, it is bounded by its limits, and every malformed
/// chunked body is a clear 4xx, the same in whichever pieces it comes.
@Suite struct HTTPRequestReaderTests {
    static let head = "POST /jailpilot/webhook/hello HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"

    /// A request whose body is `count` chunks of one byte each.
    static func oneByteChunks(_ count: Int) -> [UInt8] {
        var wire = Array(head.utf8)
        wire.reserveCapacity(wire.count + 6 * count + 5)
        for _ in 0..<count { wire += [UInt8(ascii: "1"), 0x0D, 0x0A, UInt8(ascii: "a"), 0x0D, 0x0A] }
        return wire + Array("0\r\n\r\n".utf8)
    }

    /// Feeds `wire` to `reader` `size` bytes at a time, as the listener's reads bring it.
    static func feed(_ wire: [UInt8], in size: Int, to reader: inout HTTPRequest.Reader) -> HTTPRequest.Parsed {
        var buffer: [UInt8] = []
        var parsed = HTTPRequest.Parsed.incomplete
        var end = 0
        while end < wire.count, parsed == .incomplete {
            let next = min(wire.count, end + size)
            buffer.append(contentsOf: wire[end..<next])
            end = next
            parsed = reader.read(buffer)
        }
        return parsed
    }

    /// Limits that let a mebibyte come in one-byte chunks.
    static var roomy: HTTPRequest.Limits {
        var limits = HTTPRequest.Limits()
        limits.chunks = 1 << 21
        limits.framing = 8 << 20
        return limits
    }

    @Test func aMebibyteInOneByteChunksIsParsedInLinearWork() {
        let wire = Self.oneByteChunks(1 << 20)
        // The listener's reads are at most 16 KiB: the reader used to decode the body from its
        // start at each one (about 190 times the input for this request).
        var reader = HTTPRequest.Reader(limits: Self.roomy)
        let parsed = Self.feed(wire, in: 16 * 1024, to: &reader)
        guard case .complete(let request) = parsed else {
            Issue.record("\(parsed)")
            return
        }
        #expect(request.body.count == 1 << 20 && request.body.allSatisfy { $0 == UInt8(ascii: "a") })
        #expect(reader.examined <= 2 * wire.count, "looked at \(reader.examined) bytes of \(wire.count)")

        // A byte per read (a slow sender) costs no more, and says what one read says.
        let small = Self.oneByteChunks(16 * 1024)
        var slow = HTTPRequest.Reader(limits: Self.roomy)
        #expect(Self.feed(small, in: 1, to: &slow) == HTTPRequest.parse(small, limits: Self.roomy))
        #expect(slow.examined <= 2 * small.count, "looked at \(slow.examined) bytes of \(small.count)")

        // Within the listener's own limits the same request is refused early, with a 413.
        var bounded = HTTPRequest.Reader()
        let refused = Self.feed(wire, in: 16 * 1024, to: &bounded)
        guard case .refused(let status, let reason) = refused else {
            Issue.record("\(refused)")
            return
        }
        #expect(status == 413 && reason.contains("more than 4096 chunks"), "\(reason)")
        #expect(bounded.examined <= 6 * 4097 + 16 * 1024 + 200, "stopped at the limit: \(bounded.examined)")
    }

    /// The status and reason of a request with this chunked body, checked to be the same when
    /// it arrives a byte at a time.
    func answer(_ body: String, limits: HTTPRequest.Limits = HTTPRequest.Limits()) -> (Int, String) {
        let wire = Array((Self.head + body).utf8)
        let whole = HTTPRequest.parse(wire, limits: limits)
        var reader = HTTPRequest.Reader(limits: limits)
        let pieces = Self.feed(wire, in: 1, to: &reader)
        #expect(pieces == whole, "byte by byte: \(pieces); at once: \(whole)")
        switch whole {
        case .incomplete: return (0, "incomplete")
        case .complete(let request): return (200, String(decoding: request.body, as: UTF8.self))
        case .refused(let status, let reason): return (status, reason)
        }
    }

    @Test func malformedChunkedBodiesAreClearErrorsAndExtensionsAndTrailersAreRead() {
        // Extensions and trailer fields are allowed and dropped.
        #expect(answer("5;name=value;q=\"x y\"\r\nhello\r\n0;last\r\nTrailer-A: 1\r\nTrailer-B:\r\n\r\n") == (200, "hello"))
        #expect(answer("5\nhello\n0\n\n") == (200, "hello"), "bare line feeds, as in the head")
        #expect(answer("5\r\nhello\r\n0\r\nTrailer-A: 1\r\n").0 == 0, "waits for the empty line after the trailers")

        for (size, what) in [("zz", "zz"), ("-5", "-5"), ("", ""), ("5 ", "5 "), ("7fffffffffffffff", "7fffffffffffffff")] {
            let (status, reason) = answer("\(size)\r\nhello\r\n0\r\n\r\n")
            #expect(status == 400 && reason.contains("a malformed chunk size '\(what)'"), "\(size): \(reason)")
        }
        let (status, reason) = answer("5\r\nhelloX\r\n0\r\n\r\n")
        #expect(status == 400 && reason.contains("chunk 1 does not end in CRLF"), "\(reason)")
        #expect(answer("5\r\nhello\rX").0 == 400, "a CR not followed by LF")
        #expect(answer("5\r\nhel").0 == 0, "a body not all there yet")
        let long = answer(String(repeating: "0", count: 1100) + "1\r\n")
        #expect(long.0 == 400 && long.1.contains("chunk size line over 1024 bytes"), "\(long)")
        let control = answer("5;a\u{1}b\r\nhello\r\n0\r\n\r\n")
        #expect(control.0 == 400 && control.1.contains("control character"), "\(control)")
        let trailer = answer("5\r\nhello\r\n0\r\nno colon here\r\n\r\n")
        #expect(trailer.0 == 400 && trailer.1.contains("malformed trailer"), "\(trailer)")

        // Over the limits: a 413 (or 431 for trailers), said before the data is read.
        var small = HTTPRequest.Limits()
        small.body = 8
        small.trailers = 32
        small.chunks = 3
        small.framing = 40
        let over = answer("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", limits: small)
        #expect(over.0 == 413 && over.1.contains("a body over 8 bytes"), "\(over)")
        let many = answer("1\r\na\r\n1\r\nb\r\n1\r\nc\r\n1\r\nd\r\n0\r\n\r\n", limits: small)
        #expect(many.0 == 413 && many.1.contains("more than 3 chunks"), "\(many)")
        let framing = answer("1;" + String(repeating: "x", count: 60) + "\r\na\r\n0\r\n\r\n", limits: small)
        #expect(framing.0 == 413 && framing.1.contains("over 40 bytes"), "\(framing)")
        let trailers = answer("1\r\na\r\n0\r\nA: " + String(repeating: "x", count: 40) + "\r\n\r\n", limits: small)
        #expect(trailers.0 == 431 && trailers.1.contains("trailer fields over 32 bytes"), "\(trailers)")
        #expect(answer("100001\r\n").0 == 413, "a chunk past the default limit is refused at once")
    }
}
