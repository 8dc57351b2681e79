/// Validation of every name that reaches a dataset, jail, file, route or command line.
///
/// Each check returns `nil` when the value is acceptable, else what is wrong with it. The rules
/// are deliberately narrower than what FreeBSD or git would accept, so that a value that passes
/// can be written unquoted in jail.conf, rc.conf and newsyslog.conf without changing meaning.
public enum Names {
    static let lower = Set("abcdefghijklmnopqrstuvwxyz")
    static let digits = Set("0123456789")
    static let hex = Set("0123456789abcdef")

    /// App names: `[a-z][a-z0-9_]*`, at most 32 characters.
    public static func appNameProblem(_ name: String) -> String? {
        guard let first = name.first else { return "is empty" }
        if name.count > 32 { return "is \(name.count) characters long; the limit is 32" }
        guard lower.contains(first) else { return "must start with a lowercase letter a-z" }
        guard name.allSatisfy({ lower.contains($0) || digits.contains($0) || $0 == "_" }) else {
            return "may contain only a-z, 0-9 and _ (it names jails, datasets and rc variables)"
        }
        return nil
    }

    /// rc service names: letters, digits and `_`, starting with a letter, at most 32.
    public static func serviceNameProblem(_ name: String) -> String? {
        guard let first = name.first else { return "is empty" }
        if name.count > 32 { return "is longer than 32 characters" }
        guard first.isASCII && first.isLetter else { return "must start with a letter" }
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            return "may contain only letters, digits and _ (rc.conf variables cannot hold '-')"
        }
        return nil
    }

    /// A commit id or abbreviation: 7 to 40 hex digits (either case).
    public static func shaProblem(_ sha: String) -> String? {
        guard (7...40).contains(sha.count) else { return "must be 7 to 40 hex digits, got \(sha.count) characters" }
        guard sha.lowercased().allSatisfy({ hex.contains($0) }) else { return "must be hex digits 0-9a-f only" }
        return nil
    }

    /// Whether `text` is exactly `count` lowercase hex digits (an abbreviated SHA, an owner id).
    public static func isLowerHex(_ text: Substring, count: Int) -> Bool {
        text.utf8.count == count && text.allSatisfy { hex.contains($0) }
    }

    /// A full 40-hex lowercase object id, as libgit2 reports them.
    public static func isFullSHA(_ sha: String) -> Bool {
        sha.count == 40 && sha.allSatisfy { hex.contains($0) }
    }

    /// A branch name, by git's check-ref-format rules plus no spaces or leading `-`.
    public static func branchProblem(_ branch: String) -> String? {
        refNameProblem(branch, kind: "branch name")
    }

    /// A full or short ref name as a remote may advertise it.
    ///
    /// One pass over the UTF-8 bytes: this runs for every ref of every poll.
    public static func refNameProblem(_ name: String, kind: String = "ref name") -> String? {
        let bytes = Array(name.utf8)
        if bytes.isEmpty { return "\(kind) is empty" }
        if bytes.count > 255 { return "\(kind) is longer than 255 characters" }
        if bytes[0] == UInt8(ascii: "-") { return "\(kind) must not start with '-'" }
        if bytes[0] == UInt8(ascii: "/") || bytes.last == UInt8(ascii: "/") {
            return "\(kind) must not start or end with '/' or contain '//'"
        }
        if bytes.last == UInt8(ascii: ".") || name.hasSuffix(".lock") { return "\(kind) must not end with '.' or '.lock'" }
        if bytes == [UInt8(ascii: "@")] { return "\(kind) must not contain '@{' or be '@'" }
        var previous: UInt8 = UInt8(ascii: "/")
        for byte in bytes {
            switch byte {
            case 0..<0x20, 0x7f: return "\(kind) contains a control character"
            case UInt8(ascii: " "), UInt8(ascii: "~"), UInt8(ascii: "^"), UInt8(ascii: ":"), UInt8(ascii: "?"),
                UInt8(ascii: "*"), UInt8(ascii: "["), UInt8(ascii: "\\"):
                return "\(kind) contains '\(Character(Unicode.Scalar(byte)))', which git forbids"
            case UInt8(ascii: "."):
                if previous == UInt8(ascii: ".") { return "\(kind) must not contain '..'" }
                if previous == UInt8(ascii: "/") { return "\(kind) has a component starting with '.'" }
            case UInt8(ascii: "/"):
                if previous == UInt8(ascii: "/") { return "\(kind) must not start or end with '/' or contain '//'" }
            case UInt8(ascii: "{"):
                if previous == UInt8(ascii: "@") { return "\(kind) must not contain '@{' or be '@'" }
            default: break
            }
            previous = byte
        }
        return nil
    }

    /// A DNS hostname (optionally `*.` wildcard first label), lowercase, at most 253 characters.
    public static func hostnameProblem(_ host: String) -> String? {
        if host.isEmpty { return "is empty" }
        if host.count > 253 { return "is longer than 253 characters" }
        var labels = host.split(separator: ".", omittingEmptySubsequences: false)
        if labels.first == "*" && labels.count > 2 { labels.removeFirst() }
        for label in labels {
            if label.isEmpty { return "has an empty label (two dots, or a leading or trailing dot)" }
            if label.count > 63 { return "has a label longer than 63 characters" }
            if label.hasPrefix("-") || label.hasSuffix("-") { return "has a label starting or ending with '-'" }
            guard label.allSatisfy({ lower.contains($0) || digits.contains($0) || $0 == "-" }) else {
                return "may contain only lowercase a-z, 0-9, '-' and '.' (write it in lowercase)"
            }
        }
        return nil
    }

    /// An absolute path without `..`, control characters or quotes (it lands in generated files).
    /// An environment variable name an app may set: a shell name (letters, digits, `_`, not
    /// starting with a digit), none of the ones jailpilot sets itself: nil when valid.
    public static func envNameProblem(_ name: String) -> String? {
        guard let first = name.first, first.isASCII, first.isLetter || first == "_",
            name.count <= 128, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
        else { return "'\(name.escapingControls)' is not a variable name (letters, digits and _, not starting with a digit)" }
        if name == "PORT" || name.hasPrefix("JAILPILOT_") {
            return "'\(name)' is set by jailpilot itself (PORT, JAILPILOT_*)"
        }
        return nil
    }

    /// A template name (a dataset or directory name under templates/): nil when valid.
    public static func templateProblem(_ name: String) -> String? {
        if name.isEmpty || name.hasPrefix(".")
            || !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_-.".contains($0)) })
        {
            return "'\(name.escapingControls)' may contain only letters, digits, '_', '-' and '.'"
        }
        return nil
    }

    public static func pathProblem(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return "must be an absolute path" }
        if path.split(separator: "/").contains("..") { return "must not contain '..'" }
        for scalar in path.unicodeScalars where scalar.value < 0x20 || "\"'$;`\\".unicodeScalars.contains(scalar) {
            return "must not contain quotes, '$', ';', '`', '\\' or control characters"
        }
        return nil
    }

    /// An app's data directory inside its jails: absolute, plain characters only (it lands in
    /// fstab lines, jail.conf and the supervisor), and not a directory the system needs.
    public static func dataPathProblem(_ path: String) -> String? {
        if let problem = pathProblem(path) { return problem }
        let parts = path.split(separator: "/")
        if parts.isEmpty { return "must not be the jail's root" }
        if path.count > 200 { return "is longer than 200 characters" }
        if parts.contains(where: { $0 == "." }) || path.hasSuffix("/") || path.contains("//") {
            return "must be a plain path (no '.', '//' or trailing '/')"
        }
        if !path.unicodeScalars.allSatisfy({
            $0.isASCII && (Character($0).isLetter || Character($0).isNumber || "._-/".unicodeScalars.contains($0))
        }) {
            return "may hold letters, digits and '._-/' only"
        }
        let system = ["bin", "sbin", "lib", "libexec", "etc", "dev", "proc", "sys", "tmp", "boot", "rescue"]
        if let first = parts.first,
            system.contains(String(first)) || path == "/usr" || path == "/usr/local"
                || path == "/usr/local/bin" || path == "/var" || path.hasPrefix("/var/run") || path.hasPrefix("/var/log")
        {
            return "is a system directory; use a directory of its own such as /var/db/<app>"
        }
        return nil
    }

    /// Why `path` may not be a `files` target inside a jail: a plain absolute path to a file,
    /// not one jailpilot writes itself (the service's binary, rc script and environment, the
    /// host's device and kernel trees) nor under the app's data volume (mounted over it).
    public static func jailFileProblem(_ path: String, service: String, data: String?) -> String? {
        if let problem = pathProblem(path) { return problem }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        if parts.isEmpty || path.hasSuffix("/") { return "must name a file, not a directory" }
        if parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) {
            return "must be a plain path (no '.', '..', '//' or trailing '/')"
        }
        if path.utf8.count > 255 { return "is longer than 255 bytes" }
        if path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) { return "holds a control character" }
        let owned = [
            "/usr/local/bin/\(service)", "/usr/local/etc/rc.d/\(service)", "/etc/rc.conf.d/\(service)",
            "/usr/local/etc/jailpilot/\(service).env",
        ]
        if owned.contains(path) || parts.contains(where: { $0.hasPrefix(".jailpilot") }) {
            return "is written by jailpilot itself"
        }
        if let first = parts.first, ["dev", "proc", "sys", "tmp"].contains(String(first)) {
            return "is in /\(first), which the jail's own system provides"
        }
        if let data, path.hasPrefix(data + "/") { return "is inside the data volume (\(data)), which is mounted over it" }
        return nil
    }

    /// The URL schemes jailpilot fetches from.
    public static let schemes = ["https://", "http://", "ssh://", "git://", "file://"]

    /// A remote URL: one of `schemes`, or scp-like `user@host:path`.
    public static func repoProblem(_ url: String) -> String? {
        if url.isEmpty { return "is empty" }
        if url.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7f }) {
            return "contains spaces or control characters"
        }
        if schemes.contains(where: { url.hasPrefix($0) }) { return nil }
        if let colon = url.firstIndex(of: ":"), url[..<colon].contains("@"), !url.contains("://") { return nil }
        let scheme = url.components(separatedBy: "://").first ?? url
        return url.contains("://")
            ? "has scheme '\(scheme)'; use https://, ssh://, git://, file:// or user@host:path"
            : "is not a URL; use https://host/repo.git, ssh://git@host/repo.git, git@host:repo.git or file:///path"
    }

    /// Whether `url` is fetched over SSH (and so needs host-key verification).
    public static func isSSH(_ url: String) -> Bool {
        url.hasPrefix("ssh://") || (!url.contains("://") && url.contains("@") && url.contains(":"))
    }
}
