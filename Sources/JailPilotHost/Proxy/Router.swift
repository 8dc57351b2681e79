import JailPilotCore

/// The reverse proxy in front of the jails, as the deployer sees it.
public protocol Router: Sendable {
    /// Makes the proxy route every configured app's hostnames through jailpilot's resolver.
    /// Idempotent: changes (and so reloads) the proxy only when its routes differ.
    /// Returns true when the proxy's configuration was changed.
    @discardableResult
    func applyRoutes(for apps: [AppConfig]) async throws -> Bool
    /// A cheap look (no admin API call) at whether the proxy still serves these routes: false
    /// after a restart or a reload by someone else; nil when it cannot be told this way.
    func routesPresent(for apps: [AppConfig]) async -> Bool?
    /// Writes the routes where an operator's own proxy config can include them (nothing when
    /// not configured); true when the file changed.
    @discardableResult
    func writeCaddyfile(for apps: [AppConfig]) throws -> Bool
}

/// The proxy could not be driven; nothing live was changed.
public struct RouterError: Error, Sendable, CustomStringConvertible {
    public var admin: String
    public var message: String

    public init(admin: String, message: String) {
        self.admin = admin
        self.message = message
    }

    public var description: String {
        "Caddy admin API at \(admin): \(message)"
    }
}
