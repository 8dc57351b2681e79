extension SecretRedactor {
    /// Text as a decoder reads it: each byte with the range of the original text it came from.
    struct View {
        var bytes: [UInt8]
        var origins: [Range<Int>]

        init(_ bytes: [UInt8]) {
            self.bytes = bytes
            origins = bytes.indices.map { $0..<($0 + 1) }
        }

        init(bytes: [UInt8], origins: [Range<Int>]) {
            self.bytes = bytes
            self.origins = origins
        }

        /// The original range a match (a range of this view) came from.
        func origin(of match: Range<Int>) -> Range<Int> {
            origins[match.lowerBound].lowerBound..<origins[match.upperBound - 1].upperBound
        }

        /// Whether `form` is at `start`.
        func holds(_ form: [UInt8], at start: Int) -> Bool {
            start + form.count <= bytes.count && bytes[start..<(start + form.count)].elementsEqual(form)
        }

        /// `match` widened to the whole run of base64 characters (either alphabet, `=` padding)
        /// around it: its first and last characters hold bits of the value too.
        func base64Run(around match: Range<Int>) -> Range<Int> {
            func isBase64(_ byte: UInt8) -> Bool {
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"):
                    return true
                default:
                    return byte == UInt8(ascii: "+") || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "-")
                        || byte == UInt8(ascii: "_")
                }
            }
            var start = match.lowerBound
            while start > 0, isBase64(bytes[start - 1]) { start -= 1 }
            var end = match.upperBound
            while end < bytes.count, isBase64(bytes[end]) || bytes[end] == UInt8(ascii: "=") { end += 1 }
            return start..<end
        }

        /// String-literal escapes decoded (JSON, Go, Python, C); nil when there are none.
        func unescaped() -> View? {
            guard bytes.contains(UInt8(ascii: "\\")) else { return nil }
            var out = View(bytes: [], origins: [])
            var i = 0
            func emit(_ decoded: [UInt8], through end: Int) {
                let origin = origins[i].lowerBound..<origins[end - 1].upperBound
                out.bytes += decoded
                out.origins += Array(repeating: origin, count: decoded.count)
                i = end
            }
            while i < bytes.count {
                guard bytes[i] == UInt8(ascii: "\\"), i + 1 < bytes.count else {
                    emit([bytes[i]], through: i + 1)
                    continue
                }
                switch bytes[i + 1] {
                case UInt8(ascii: "n"): emit([0x0A], through: i + 2)
                case UInt8(ascii: "r"): emit([0x0D], through: i + 2)
                case UInt8(ascii: "t"): emit([0x09], through: i + 2)
                case UInt8(ascii: "b"): emit([0x08], through: i + 2)
                case UInt8(ascii: "f"): emit([0x0C], through: i + 2)
                case UInt8(ascii: "x"):
                    if let byte = hexValue(i + 2, digits: 2) {
                        emit([UInt8(byte)], through: i + 4)
                    } else {
                        emit([bytes[i]], through: i + 1)
                    }
                case UInt8(ascii: "u"):
                    if let (scalar, end) = unicodeEscape(at: i) {
                        emit(Array(String(scalar).utf8), through: end)
                    } else {
                        emit([bytes[i]], through: i + 1)
                    }
                default: emit([bytes[i + 1]], through: i + 2)
                }
            }
            return out
        }

        /// `\uXXXX` at `i` (with its low surrogate when it is a high one) and where it ends.
        private func unicodeEscape(at i: Int) -> (Unicode.Scalar, Int)? {
            guard let unit = hexValue(i + 2, digits: 4) else { return nil }
            if (0xD800..<0xDC00).contains(unit) {
                guard bytes.count >= i + 12, bytes[i + 6] == UInt8(ascii: "\\"),
                    bytes[i + 7] == UInt8(ascii: "u"), let low = hexValue(i + 8, digits: 4), (0xDC00..<0xE000).contains(low),
                    let scalar = Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                else { return nil }
                return (scalar, i + 12)
            }
            return Unicode.Scalar(unit).map { ($0, i + 6) }
        }

        /// Percent-escapes decoded, and `+` as a space with `plus`; nil when nothing changes.
        func percentDecoded(plus: Bool) -> View? {
            guard bytes.contains(UInt8(ascii: "%")) || (plus && bytes.contains(UInt8(ascii: "+"))) else { return nil }
            var out = View(bytes: [], origins: [])
            var i = 0
            while i < bytes.count {
                if bytes[i] == UInt8(ascii: "%"), let byte = hexValue(i + 1, digits: 2) {
                    out.bytes.append(UInt8(byte))
                    out.origins.append(origins[i].lowerBound..<origins[i + 2].upperBound)
                    i += 3
                } else {
                    out.bytes.append(plus && bytes[i] == UInt8(ascii: "+") ? 0x20 : bytes[i])
                    out.origins.append(origins[i])
                    i += 1
                }
            }
            return out
        }

        /// The value of `digits` hex digits at `start`, or nil.
        private func hexValue(_ start: Int, digits: Int) -> UInt32? {
            guard start + digits <= bytes.count else { return nil }
            var value: UInt32 = 0
            for byte in bytes[start..<(start + digits)] {
                guard byte.isASCIIHexDigit else { return nil }
                value = value << 4 | UInt32(byte <= UInt8(ascii: "9") ? byte - 0x30 : (byte | 0x20) - 0x57)
            }
            return value
        }
    }
}
