import Synchronization

/// Everything a command needs to act: the config and the side-effect services built from it.
public struct Runtime: Sendable {
    public let config: AgentConfig
    public let layout: StateLayout
    public let store: StateStore
    public let log: EventLog
    public let runner: any ProcessRunning
    /// Where the FreeBSD driver finds /etc and /var/log (a test's scratch root under a stand-in).
    public let freebsdPaths: FreeBSDPaths
    /// The apps the whole host serves now, shared with every copy made by `with(config:)`.
    public let served: ServedApps
    /// The notification receivers in force, shared like `served`: events are queued for them.
    let receivers: Receivers
    /// What reaching a step of a deploy does: nothing, unless a crash test injected its own.
    public let crash: any CrashPoints
    /// The release engine's clock (the store's too).
    public var clock: any ReleaseClock { store.clock }

    /// Opens the state store under `config.agent.stateDir` and the agent log.
    public init(
        config: AgentConfig, echo: Bool = true, runner: any ProcessRunning = HostProcessRunner(),
        freebsdPaths: FreeBSDPaths = FreeBSDPaths(), clock: any ReleaseClock = SystemClock(),
        crash: any CrashPoints = NoCrashPoints()
    ) throws {
        self.config = config
        self.crash = crash
        self.layout = StateLayout(root: config.agent.stateDir)
        self.store = try StateStore(stateDir: config.agent.stateDir, clock: clock)
        self.log = EventLog(path: config.agent.logFile, echo: echo, store: store)
        self.runner = runner
        self.freebsdPaths = freebsdPaths
        self.served = ServedApps(config.apps + Self.retainedApps(config: config, store: store, log: log))
        let receivers = Receivers(config)
        self.receivers = receivers
        let (store, log) = (self.store, self.log)
        log.observe { event in Notifier.enqueue(event, config: receivers.config, store: store, log: log) }
    }

    /// Apps agent.conf no longer names whose release is still live: served as their last flip
    /// recorded (a store that cannot be read serves agent.conf's apps only, and says so).
    static func retainedApps(config: AgentConfig, store: StateStore, log: EventLog) -> [AppConfig] {
        do {
            return try store.servedRoutesOfLiveApps().filter { config.app($0.app) == nil }.map(\.retainedApp)
        } catch {
            log.emit(
                app: "-", "served.unreadable", [("error", "\(error)"), ("note", "removed apps that still run are not routed")])
            return []
        }
    }

    private init(
        config: AgentConfig, layout: StateLayout, store: StateStore, log: EventLog, runner: any ProcessRunning,
        freebsdPaths: FreeBSDPaths, served: ServedApps, receivers: Receivers, crash: any CrashPoints
    ) {
        self.config = config
        self.crash = crash
        self.layout = layout
        self.store = store
        self.log = log
        self.runner = runner
        self.freebsdPaths = freebsdPaths
        self.served = served
        self.receivers = receivers
    }

    /// The same store, log, runner and served apps with a reloaded config (state_dir must not
    /// change); the caller updates `served`.
    public func with(config: AgentConfig) -> Runtime {
        receivers.config = config
        return Runtime(
            config: config, layout: layout, store: store, log: log, runner: runner, freebsdPaths: freebsdPaths, served: served,
            receivers: receivers, crash: crash)
    }

    /// The app called `name`, or an error listing the configured ones.
    public func app(_ name: String) throws -> AppConfig {
        try config.requireApp(name)
    }

    /// An app `remove` may act on: one agent.conf names, or one removed from it whose release
    /// is still live (served from its last flip's record).
    public func removableApp(_ name: String) throws -> AppConfig {
        if let app = config.app(name) { return app }
        if let retained = served.all.first(where: { $0.name == name }) { return retained }
        return try config.requireApp(name)
    }
}

extension AgentConfig {
    /// The app called `name`, or an error listing the configured ones.
    public func requireApp(_ name: String) throws -> AppConfig {
        guard let app = app(name) else { throw UnknownAppError(name: name, known: apps.map(\.name), file: sourcePath) }
        return app
    }
}

/// A command named an app that agent.conf does not define.
public struct UnknownAppError: Error, CustomStringConvertible {
    public var name: String
    public var known: [String]
    public var file: String

    public var description: String {
        "no app '\(name.escapingControls)' in \(file.escapingControls); configured apps: \(known.isEmpty ? "none" : known.joined(separator: ", "))"
    }
}

/// The config whose `[[agent.notify]]` receivers events are queued for (the latest reload's).
final class Receivers: Sendable {
    private let current: Mutex<AgentConfig>
    init(_ config: AgentConfig) { current = Mutex(config) }
    var config: AgentConfig {
        get { current.withLock { $0 } }
        set { current.withLock { $0 = newValue } }
    }
}

extension Runtime {
    /// `apps` as Caddy routes them: each on the port of its live release (the route follows the
    /// release, so a port change moves with the flip and a rollback moves it back), or on the
    /// port in `overriding` (a flip about to happen); an app with no live release on its own.
    public func routed(_ apps: [AppConfig], overriding: [String: Int] = [:]) -> [AppConfig] {
        var live: [String: Int] = [:]
        for release in (try? store.releases(in: [.live])) ?? [] { if let port = release.port { live[release.app] = port } }
        return apps.map { app in
            var app = app
            if let port = overriding[app.name] ?? live[app.name] { app.port = port }
            return app
        }
    }
}
