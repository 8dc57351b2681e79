extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and line breaks.
    public var trimmedWhitespace: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}

extension UInt8 {
    /// Whether this byte is an ASCII hex digit, 0-9, a-f or A-F.
    package var isASCIIHexDigit: Bool {
        (self >= 0x30 && self <= 0x39) || (self >= 0x41 && self <= 0x46) || (self >= 0x61 && self <= 0x66)
    }
}

extension String {
    /// How the event log writes a control character (`\n`, `\t`, `\r`, `\u001b`), or nil for
    /// any other character.
    static func controlEscape(_ scalar: Unicode.Scalar) -> String? {
        switch scalar {
        case "\n": return "\\n"
        case "\t": return "\\t"
        case "\r": return "\\r"
        default:
            return scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) ? "\\u" + hex(scalar.value, width: 4) : nil
        }
    }

    /// The text with control characters escaped as the event log escapes them, so that a name
    /// from outside (a file name, a branch) cannot forge lines or drive the terminal when printed.
    public var escapingControls: String { escapingControls(keep: []) }

    /// As `escapingControls`, leaving the characters in `keep` as they are.
    public func escapingControls(keep: Set<Unicode.Scalar>) -> String {
        guard unicodeScalars.contains(where: { !keep.contains($0) && Self.controlEscape($0) != nil }) else { return self }
        var out = ""
        for scalar in unicodeScalars {
            if !keep.contains(scalar), let escaped = Self.controlEscape(scalar) {
                out += escaped
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `value` with exactly `digits` decimals, like `%.3f`.
    public static func fixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return String(value) }
        var scale: Double = 1
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int64((abs(value) * scale).rounded())
        let unit = Int64(scale)
        let sign = value < 0 && scaled != 0 ? "-" : ""
        guard digits > 0 else { return sign + String(scaled) }
        return sign + String(scaled / unit) + "." + String(scaled % unit).leftPadded(to: digits)
    }

    /// `value` in lowercase hex with at least `width` digits, like `%02x`.
    public static func hex<T: BinaryInteger>(_ value: T, width: Int) -> String {
        String(value, radix: 16).leftPadded(to: width)
    }

    /// The text with leading zeros up to `width` characters.
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
