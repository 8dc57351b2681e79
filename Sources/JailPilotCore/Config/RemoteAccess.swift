/// How to reach one app's remote: URL plus the credentials and host keys that go with it.
///
/// Secrets are read from files at the moment libgit2 asks for them and never stored here,
/// so a `RemoteAccess` can be logged or compared without leaking anything.
public struct RemoteAccess: Sendable, Hashable {
    public var url: String
    /// HTTPS: file whose first line is a token.
    public var tokenFile: String?
    public var tokenUser: String
    /// SSH: private key file; `nil` asks the ssh-agent.
    public var sshKey: String?
    /// SSH: the known_hosts file host keys are checked against.
    public var knownHosts: String
    /// How long a ref listing may take before the remote counts as down (libgit2 1.5 has no
    /// network timeouts of its own).
    public var listTimeout: Duration = .seconds(30)
    /// How long one fetch may take.
    public var fetchTimeout: Duration = .seconds(600)

    public init(
        url: String, tokenFile: String? = nil, tokenUser: String = "git", sshKey: String? = nil,
        knownHosts: String = "/etc/ssh/ssh_known_hosts"
    ) {
        self.url = url
        self.tokenFile = tokenFile
        self.tokenUser = tokenUser
        self.sshKey = sshKey
        self.knownHosts = knownHosts
    }

    /// The access an app's config describes.
    public init(app: AppConfig) {
        self.init(
            url: app.repo, tokenFile: app.tokenFile, tokenUser: app.tokenUser, sshKey: app.sshKey,
            knownHosts: app.knownHosts)
    }

    /// The URL with its secrets masked, for logs and errors: the whole `user[:password]@` of an
    /// http(s) URL (a token often sits in the user name), the password of any other.
    public var redactedURL: String { Self.redact(url) }

    public static func redact(_ url: String) -> String {
        // Most remotes have no credentials in them: no string searching at every poll for those.
        guard url.utf8.contains(UInt8(ascii: "@")) else { return url }
        guard let scheme = url.firstRange(of: "://"), let info = userinfo(url),
            let at = url[scheme.upperBound...].firstIndex(of: "@")
        else { return url }
        let web = url.hasPrefix("http://") || url.hasPrefix("https://")
        guard web || info.contains(":") else { return url }
        return url[..<scheme.upperBound] + "***@" + url[url.index(after: at)...]
    }

    /// The `user[:password]` of a URL with a scheme, if it has one.
    public static func userinfo(_ url: String) -> String? {
        guard let scheme = url.firstRange(of: "://") else { return nil }
        let authority = url[scheme.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard let at = authority.lastIndex(of: "@") else { return nil }
        return String(authority[..<at])
    }

    /// `scheme://host:port` of an http(s) URL, lower-cased, with the default port filled in;
    /// nil for anything else. Credentials go only where this matches the configured remote's.
    public static func origin(_ url: String) -> String? {
        let lower = url.lowercased()
        let scheme: String
        let defaultPort: Int
        if lower.hasPrefix("https://") {
            (scheme, defaultPort) = ("https", 443)
        } else if lower.hasPrefix("http://") {
            (scheme, defaultPort) = ("http", 80)
        } else {
            return nil
        }
        var authority = lower.dropFirst(scheme.count + 3).prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var host = String(authority)
        var port = defaultPort
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]"),
            let number = Int(authority[authority.index(after: colon)...])
        {
            host = String(authority[..<colon])
            port = number
        }
        guard !host.isEmpty else { return nil }
        return "\(scheme)://\(host):\(port)"
    }

    /// Whether an http(s) URL names a loopback host (127.0.0.0/8, ::1, localhost).
    public static func isLoopback(_ url: String) -> Bool {
        guard let origin = origin(url) else { return false }
        let host = origin.split(separator: "/").last.map { String($0.prefix(upTo: $0.lastIndex(of: ":") ?? $0.endIndex)) } ?? ""
        return host.hasPrefix("127.") || host == "localhost" || host == "[::1]"
    }

    /// The SSH port in the URL (22 when absent), for `[host]:port` known_hosts entries.
    package var sshPort: Int {
        guard url.hasPrefix("ssh://") else { return 22 }
        let rest = url.dropFirst("ssh://".count)
        let authority = rest.prefix { $0 != "/" }
        let hostPort = authority.split(separator: "@").last ?? authority
        if let colon = hostPort.lastIndex(of: ":"), let port = Int(hostPort[hostPort.index(after: colon)...]) {
            return port
        }
        return 22
    }
}
