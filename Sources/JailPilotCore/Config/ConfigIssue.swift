/// One problem found in agent.conf: where it is, what is wrong and what to write instead.
public struct ConfigIssue: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// 1-based line, when the problem sits on one.
    public var line: Int?
    /// The dotted key, e.g. `apps.hello.keep`.
    public var key: String
    public var message: String

    public var description: String {
        let file = self.file.escapingControls
        let place = line.map { "\(file):\($0)" } ?? file
        return key.isEmpty ? "\(place): \(message)" : "\(place): \(key): \(message)"
    }
}

/// agent.conf could not be used; carries every problem found, not just the first.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var issues: [ConfigIssue]

    public var description: String {
        let noun = issues.count == 1 ? "problem" : "problems"
        return "\(issues.count) \(noun) in agent.conf:\n" + issues.map { "  \($0)" }.joined(separator: "\n")
    }
}

/// Parses durations written as `500ms`, `30s`, `5m`, `1h`, `1m30s`.
public enum DurationText {
    /// The longest duration parsed (about 31 years); longer text is refused, not wrapped or trapped.
    public static let maxSeconds: Int64 = 1_000_000_000

    /// The duration, or `nil` if `text` is not of that form or longer than `maxSeconds`.
    public static func parse(_ text: String) -> Duration? {
        var totalMilliseconds: Int64 = 0
        var number: Int64? = nil
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        while let c = rest.first {
            if let digit = c.asciiValue, digit >= 0x30 && digit <= 0x39 {
                let (times10, o1) = (number ?? 0).multipliedReportingOverflow(by: 10)
                let (next, o2) = times10.addingReportingOverflow(Int64(digit - 0x30))
                guard !o1, !o2, next <= maxSeconds * 1000 else { return nil }
                number = next
                rest.removeFirst()
                continue
            }
            guard let n = number else { return nil }
            number = nil
            let unit: Int64
            if rest.hasPrefix("ms") {
                unit = 1
                rest.removeFirst(2)
            } else {
                switch rest.removeFirst() {
                case "s": unit = 1000
                case "m": unit = 60_000
                case "h": unit = 3_600_000
                default: return nil
                }
            }
            let (part, o1) = n.multipliedReportingOverflow(by: unit)
            let (sum, o2) = totalMilliseconds.addingReportingOverflow(part)
            guard !o1, !o2, sum <= maxSeconds * 1000 else { return nil }
            totalMilliseconds = sum
        }
        return number == nil ? .milliseconds(totalMilliseconds) : nil
    }

    /// Formats as the shortest text that parses back, e.g. `90s` → `1m30s`; never traps, even
    /// for durations no config can hold.
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, seconds <= maxSeconds * 1000 else { return "\(seconds)s" }
        let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        if ms % 1000 != 0 { return "\(ms)ms" }
        var s = ms / 1000
        var out = ""
        if s >= 3600 { out += "\(s / 3600)h"; s %= 3600 }
        if s >= 60 { out += "\(s / 60)m"; s %= 60 }
        if s > 0 || out.isEmpty { out += "\(s)s" }
        return out
    }
}
