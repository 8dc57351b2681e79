import FoundationEssentials

/// An OpenSSH known_hosts file, as far as verifying one server's host key needs.
///
/// Supports plain host patterns (with `*`, `?`, `!` negation and `[host]:port`) and
/// `@revoked`. Hashed entries (`|1|...`, from `ssh-keyscan -H`) are not matched: write the
/// file with plain host names.
public struct KnownHosts: Sendable {
    struct Entry: Sendable {
        var patterns: [String]
        var keyType: String
        var key: [UInt8]
        var revoked: Bool
    }

    var entries: [Entry]
    var hashedEntries: Int

    /// The verdict on a presented key.
    public enum Verdict: Sendable, Equatable {
        case trusted
        case unknownHost
        case changed
        case revoked
    }

    /// Parses known_hosts text; malformed lines are skipped as OpenSSH does.
    public init(text: String) {
        var entries: [Entry] = []
        var hashed = 0
        for raw in text.split(separator: "\n") {
            var fields = raw.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let first = fields.first, !first.hasPrefix("#") else { continue }
            var revoked = false
            if first.hasPrefix("@") {
                if first == "@revoked" { revoked = true } else { continue }
                fields.removeFirst()
            }
            guard fields.count >= 3, let key = Data(base64Encoded: fields[2]) else { continue }
            if fields[0].hasPrefix("|") {
                hashed += 1
                continue
            }
            entries.append(
                Entry(
                    patterns: fields[0].split(separator: ",").map(String.init), keyType: fields[1], key: Array(key),
                    revoked: revoked))
        }
        self.entries = entries
        self.hashedEntries = hashed
    }

    /// Reads `path`; a missing file is an empty one (every host is then unknown).
    public static func load(path: String) -> KnownHosts {
        KnownHosts(text: (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
    }

    /// Checks the raw key blob `key` presented by `host` on `port`.
    public func verify(host: String, port: Int, key: [UInt8]) -> Verdict {
        let name = port == 22 ? host.lowercased() : "[\(host.lowercased())]:\(port)"
        let matching = entries.filter { Self.matches(name, patterns: $0.patterns) }
        if matching.contains(where: { $0.revoked && $0.key == key }) { return .revoked }
        if matching.contains(where: { !$0.revoked && $0.key == key }) { return .trusted }
        return matching.contains(where: { !$0.revoked }) ? .changed : .unknownHost
    }

    static func matches(_ name: String, patterns: [String]) -> Bool {
        var matched = false
        for pattern in patterns {
            if pattern.hasPrefix("!") {
                if glob(String(pattern.dropFirst()).lowercased(), name) { return false }
            } else if glob(pattern.lowercased(), name) {
                matched = true
            }
        }
        return matched
    }

    static func glob(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern)
        let t = Array(text)
        func match(_ i: Int, _ j: Int) -> Bool {
            if i == p.count { return j == t.count }
            if p[i] == "*" { return (j...t.count).contains { match(i + 1, $0) } }
            guard j < t.count, p[i] == "?" || p[i] == t[j] else { return false }
            return match(i + 1, j + 1)
        }
        return match(0, 0)
    }
}
