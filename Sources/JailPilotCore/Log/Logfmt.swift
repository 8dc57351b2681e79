import FoundationEssentials

/// logfmt encoding: `key=value` pairs, values quoted only when they must be.
public enum Logfmt {
    /// `key=value`, quoting and escaping the value when it holds spaces, `=`, quotes or controls.
    public static func pair(_ key: String, _ value: String) -> String {
        "\(key)=\(quote(value))"
    }

    static func quote(_ value: String) -> String {
        let needs =
            value.isEmpty
            || value.unicodeScalars.contains {
                $0.value <= 0x20 || $0 == "=" || $0 == "\"" || $0 == "\\" || String.controlEscape($0) != nil
            }
        guard needs else { return value }
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if let escaped = String.controlEscape(scalar) {
                    out += escaped
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Parses pairs written by `pair` back into (key, value).
    public static func parse(_ line: String) -> [(String, String)] {
        var pairs: [(String, String)] = []
        var chars = Substring(line)
        while !chars.isEmpty {
            chars = chars.drop { $0 == " " }
            let key = chars.prefix { $0 != "=" && $0 != " " }
            chars = chars.dropFirst(key.count)
            guard chars.first == "=" else {
                if !key.isEmpty { pairs.append((String(key), "")) }
                continue
            }
            chars = chars.dropFirst()
            var value = ""
            if chars.first == "\"" {
                chars = chars.dropFirst()
                while let c = chars.first {
                    chars = chars.dropFirst()
                    if c == "\"" { break }
                    if c == "\\", let next = chars.first {
                        chars = chars.dropFirst()
                        switch next {
                        case "n": value.append("\n")
                        case "t": value.append("\t")
                        case "r": value.append("\r")
                        default: value.append(next)
                        }
                    } else {
                        value.append(c)
                    }
                }
            } else {
                let bare = chars.prefix { $0 != " " }
                value = String(bare)
                chars = chars.dropFirst(bare.count)
            }
            pairs.append((String(key), value))
        }
        return pairs
    }

    /// Formats a duration as seconds with at most 3 decimals, e.g. `12.4s`, `0.021s`.
    public static func seconds(_ duration: Duration) -> String {
        let s = duration.seconds
        let text = String.fixed(s, digits: s >= 10 ? 1 : 3)
        return text + "s"
    }
}
