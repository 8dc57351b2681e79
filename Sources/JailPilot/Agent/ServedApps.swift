import Synchronization

/// The apps this host serves now: agent.conf's as last loaded, and removed ones that still have
/// a live release. One instance is shared by every copy of a runtime, so a watcher started
/// before a reload writes Caddy's routes and the jails' policy for the apps added since, and
/// keeps those of removed apps that still run (Caddy's routes and the policy are derived from
/// the whole host, whichever app's deploy writes them).
public final class ServedApps: Sendable {
    private let apps: Mutex<[AppConfig]>

    public init(_ apps: [AppConfig]) { self.apps = Mutex(apps) }

    /// The apps now, in agent.conf's order, removed ones after them by name.
    public var all: [AppConfig] { apps.withLock { $0 } }

    /// Replaces the set (the agent, after a reload or when a removed app's last release goes).
    public func replace(with apps: [AppConfig]) { self.apps.withLock { $0 = apps } }
}
