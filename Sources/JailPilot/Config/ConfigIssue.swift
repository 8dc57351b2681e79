/// One problem found in agent.conf: where it is, what is wrong and what to write instead.
public struct ConfigIssue: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// 1-based line, when the problem sits on one.
    public var line: Int?
    /// The dotted key, e.g. `apps.hello.keep`.
    public var key: String
    public var message: String

    public var description: String {
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
    /// The duration, or `nil` if `text` is not of that form.
    public static func parse(_ text: String) -> Duration? {
        var total = Duration.zero
        var number = ""
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        while let c = rest.first {
            if c.isASCII && c.isNumber {
                number.append(c)
                rest.removeFirst()
                continue
            }
            guard let n = Int64(number) else { return nil }
            number = ""
            if rest.hasPrefix("ms") {
                total += .milliseconds(n)
                rest.removeFirst(2)
            } else {
                switch rest.removeFirst() {
                case "s": total += .seconds(n)
                case "m": total += .seconds(n * 60)
                case "h": total += .seconds(n * 3600)
                default: return nil
                }
            }
        }
        return number.isEmpty ? total : nil
    }

    /// Formats as the shortest text that parses back, e.g. `90s` → `1m30s`.
    public static func format(_ duration: Duration) -> String {
        let ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if ms % 1000 != 0 { return "\(ms)ms" }
        var s = ms / 1000
        var out = ""
        if s >= 3600 { out += "\(s / 3600)h"; s %= 3600 }
        if s >= 60 { out += "\(s / 60)m"; s %= 60 }
        if s > 0 || out.isEmpty { out += "\(s)s" }
        return out
    }
}
