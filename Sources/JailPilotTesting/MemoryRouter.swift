import JailPilot
import Synchronization

/// Caddy held in memory: the apps whose routes it serves, and whether its admin API answers.
public final class MemoryRouter: Router, Sendable {
    private let state = Mutex<(apps: [String], hostnames: [String: [String]], down: Bool, applies: Int)>(([], [:], false, 0))

    public init() {}

    /// The app names it routes now.
    public var routedApps: [String] { state.withLock { $0.apps } }
    /// The hostnames each routed app is served under.
    public var hostnames: [String: [String]] { state.withLock { $0.hostnames } }
    /// How often the routes had to change.
    public var applies: Int { state.withLock { $0.applies } }
    /// Caddy stops (or starts) answering its admin API.
    public func setDown(_ down: Bool) { state.withLock { $0.down = down } }

    public func applyRoutes(for apps: [AppConfig]) async throws -> Bool {
        try state.withLock { state in
            if state.down {
                throw RouterError(
                    admin: "memory", message: "unreachable (connection refused); is Caddy running? Nothing was changed")
            }
            let names = apps.map(\.name)
            guard names != state.apps else { return false }
            state.apps = names
            state.hostnames = Dictionary(apps.map { ($0.name, $0.hostnames) }, uniquingKeysWith: { first, _ in first })
            state.applies += 1
            return true
        }
    }

    public func routesPresent(for apps: [AppConfig]) async -> Bool? {
        state.withLock { !$0.down && $0.apps == apps.map(\.name) }
    }

    public func writeCaddyfile(for apps: [AppConfig]) throws -> Bool { false }
}
