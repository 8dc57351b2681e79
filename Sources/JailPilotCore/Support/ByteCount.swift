/// Sizes in agent.conf: "512KiB", "256MiB", "2GiB" (binary units; "KB", "MB", "GB" and bare "K",
/// "M", "G" mean the same), or a plain number of bytes.
public enum ByteCount {
    /// The bytes `text` names, or nil when it is not a size or does not fit in an Int.
    public static func parse(_ text: String) -> Int? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 18, let number = Int(digits) else { return nil }
        let unit = text.dropFirst(digits.count).lowercased()
        let shift: Int
        switch unit {
        case "", "b": shift = 0
        case "k", "kb", "kib": shift = 10
        case "m", "mb", "mib": shift = 20
        case "g", "gb", "gib": shift = 30
        case "t", "tb", "tib": shift = 40
        default: return nil
        }
        let (value, overflow) = number.multipliedReportingOverflow(by: 1 << shift)
        return overflow ? nil : value
    }

    /// The largest whole binary unit: 268435456 → "256MiB", 1500 → "1500B".
    public static func format(_ bytes: Int) -> String {
        for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")]
        where bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift)\(unit)"
        }
        if bytes >= 1 << 20 { return "\(bytes >> 20)MiB+" }
        return "\(bytes)B"
    }

    /// A size for people, one decimal: 44040192 → "42.0 MiB", 900 → "900 B".
    public static func approximate(_ bytes: Int64) -> String {
        for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] where bytes >= Int64(1) << shift {
            let tenths = (bytes * 10 + (Int64(1) << shift) / 2) >> shift
            return "\(tenths / 10).\(tenths % 10) \(unit)"
        }
        return "\(bytes) B"
    }
}
