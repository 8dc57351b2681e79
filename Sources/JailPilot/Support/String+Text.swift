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

extension String {
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
