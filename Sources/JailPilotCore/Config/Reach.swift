/// `[webhook]`: forge push events reach the agent through a Caddy route and make it poll the
/// app at once. The agent listens on loopback only; TLS and request limits are Caddy's.
public struct WebhookSettings: Sendable, Equatable {
    /// Where the agent listens: `127.0.0.1:PORT`.
    public var listen: String
    /// The hostnames Caddy serves the webhook route on.
    public var hostnames: [String]
    /// The route's path; an app's webhook URL is `https://HOST<path>/<app>`.
    public var path: String

    public init(listen: String, hostnames: [String], path: String) {
        self.listen = listen
        self.hostnames = hostnames
        self.path = path
    }
}

/// One `[[agent.notify]]` entry: a receiver of signed JSON notifications.
public struct NotifyTarget: Sendable, Equatable {
    /// `http://` or `https://` (https is sent with curl(1)).
    public var url: String
    /// A file whose first line is the HMAC key (never logged, never sent).
    public var secretFile: String
    /// The events it wants (`NotifyTarget.allEvents` by default).
    public var events: Set<String>
    /// https: a PEM file of the CA(s) to trust for this receiver instead of the system's.
    public var caFile: String? = nil
    /// Whether failures carry the last lines of the release's log (`log_tail`, off by default):
    /// only to a receiver the lines cannot be read on the way to (`isConfidential`).
    public var logTail = false

    /// Whether what is sent to it cannot be read on the way: https://, or http:// to this host
    /// (127.0.0.0/8, [::1], localhost).
    public var isConfidential: Bool {
        if url.hasPrefix("https://") { return true }
        guard url.hasPrefix("http://") else { return false }
        let authority = url.dropFirst("http://".count).prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.contains("@") else { return false }
        let host: Substring
        if authority.hasPrefix("[") {
            host = authority.prefix { $0 != "]" } + "]"
        } else {
            host = authority.prefix { $0 != ":" }
        }
        if host == "localhost" || host == "[::1]" { return true }
        return IPv4Network.parse(String(host)).map { $0 >> 24 == 127 } ?? false
    }

    /// Every event a receiver can ask for.
    public static let allEvents: [String] = [
        "release.live", "release.failed", "release.reverted", "release.quarantined", "release.refused", "hold.placed",
        "hold.lifted", "release.unverified",
    ]

    /// A receiver as logs and metrics name it: scheme and host only (a path or a user part can
    /// hold a token). `Notifier.label` is this; it is here because agent.conf's `log_tail`
    /// check names the receiver too.
    public static func label(_ url: String) -> String {
        let scheme = url.hasPrefix("https://") ? "https://" : "http://"
        let rest = url.dropFirst(scheme.count)
        var authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        return scheme + authority + (rest.count > authority.count ? "/…" : "")
    }
}
