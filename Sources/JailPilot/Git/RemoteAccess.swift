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

    /// The URL with any `user:password@` part masked, for logs and errors.
    public var redactedURL: String { Self.redact(url) }

    static func redact(_ url: String) -> String {
        guard let scheme = url.firstRange(of: "://"), let at = url[scheme.upperBound...].firstIndex(of: "@") else {
            return url
        }
        let userinfo = url[scheme.upperBound..<at]
        guard userinfo.contains(":") else { return url }
        return url[..<scheme.upperBound] + "***@" + url[url.index(after: at)...]
    }

    /// The SSH port in the URL (22 when absent), for `[host]:port` known_hosts entries.
    var sshPort: Int {
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
