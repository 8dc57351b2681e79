import FoundationEssentials
import JailPilotCore

/// An OpenSSH known_hosts file, as far as verifying one server's host key needs.
///
/// Supports plain host patterns (with `*`, `?`, `!` negation and `[host]:port`), hashed names
/// (`|1|base64 salt|base64 HMAC-SHA1(salt, name)`, as `ssh-keyscan -H` and `HashKnownHosts`
/// write them; sshd(8), SSH_KNOWN_HOSTS FILE FORMAT) and `@revoked`.
public struct KnownHosts: Sendable {
    struct Entry: Sendable {
        var patterns: [String]
        var keyType: String
        var key: [UInt8]
        var revoked: Bool
        /// For a hashed entry: the salt and the HMAC-SHA1 of the host name under it.
        var hashed: (salt: [UInt8], mac: [UInt8])? = nil
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
                // |1|salt|hash: the only hashing scheme OpenSSH has.
                let parts = fields[0].split(separator: "|", omittingEmptySubsequences: false)
                guard parts.count == 4, parts[1] == "1", let salt = Data(base64Encoded: String(parts[2])),
                    let mac = Data(base64Encoded: String(parts[3])), mac.count == 20
                else { continue }
                hashed += 1
                entries.append(
                    Entry(patterns: [], keyType: fields[1], key: Array(key), revoked: revoked, hashed: (Array(salt), Array(mac))))
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

    /// Reads `path`; a missing (or over 16 MiB) file is an empty one (every host is then unknown).
    public static func load(path: String) -> KnownHosts {
        KnownHosts(text: String(decoding: (try? FileIO.readBytes(path, limit: 16 << 20)) ?? [], as: UTF8.self))
    }

    /// Checks the raw key blob `key` presented by `host` on `port`.
    public func verify(host: String, port: Int, key: [UInt8]) -> Verdict {
        let name = port == 22 ? host.lowercased() : "[\(host.lowercased())]:\(port)"
        let matching = entries.filter { entry in
            if let hashed = entry.hashed { return SHA1.hmac(key: hashed.salt, message: Array(name.utf8)) == hashed.mac }
            return Self.matches(name, patterns: entry.patterns)
        }
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

    /// OpenSSH's `*` and `?` wildcards. Iterative with one backtrack point, so time is at most
    /// pattern × text: the recursive form took exponential time on `*a*a*a…` (found by scripts/fuzz).
    static func glob(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.unicodeScalars)
        let t = Array(text.unicodeScalars)
        var i = 0
        var j = 0
        var star = -1
        var resume = 0
        while j < t.count {
            if i < p.count, p[i] == "*" {
                star = i
                resume = j
                i += 1
            } else if i < p.count, p[i] == "?" || p[i] == t[j] {
                i += 1
                j += 1
            } else if star >= 0 {
                i = star + 1
                resume += 1
                j = resume
            } else {
                return false
            }
        }
        while i < p.count, p[i] == "*" { i += 1 }
        return i == p.count
    }
}
