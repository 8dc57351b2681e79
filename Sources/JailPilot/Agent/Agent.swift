import CSpawn
import Dispatch
import FoundationEssentials
import Glibc
import Synchronization

/// `jailpilot run`: the long-running agent. Every app converges to what git and agent.conf say:
/// the pin if set, else a rollback's hold, else the tracked branch head.
///
/// A service group in miniature: one watcher task per app, a config watcher (file changes and
/// SIGHUP), and SIGTERM/SIGINT draining everything within `shutdownGrace`. Only one agent runs
/// per state_dir (an flock).
public actor Agent {
    let configPath: String
    var config: AgentConfig
    var runtime: Runtime
    let lock: AgentLock
    let slots: BuildSlots
    let metrics: Metrics
    var watchers: [String: (app: AppConfig, task: Task<Void, Never>)] = [:]
    /// Apps removed from agent.conf that still have a live release: their routes stay.
    var retained: [String: AppConfig] = [:]
    var routesApplied = false
    var routesFailing = false
    /// The route table could not be repaired at the last tick (logged once until it can).
    var repairFailing = false
    /// The store's change stamp and the route file's when the table last matched the store.
    var routesChecked: String?
    /// After a probe that disagreed with a Caddy config that was already right: when to ask again.
    var probeQuietUntil: ContinuousClock.Instant?
    var configStamp: String?
    let shutdownGrace: Duration
    /// The drivers, clock and remote the agent acts through (the host's in production).
    let seams: AgentSeams
    private var signalSources: [DispatchSourceSignal] = []
    /// The running pass over draining releases (a stop may take seconds; ticks go on meanwhile).
    var drainer: Task<Void, Never>?
    /// Set at the end of a drain: the agent's resolver stops answering.
    let resolverStopped = StopSignal()
    /// "Poll now" requests for the watchers, from the control socket and webhooks.
    let triggers = Triggers()
    let listeners: Listeners
    /// Delivers `[[agent.notify]]` notifications.
    let notifier: Notifier

    /// Loads the config, takes the state_dir lock and opens the store (refusing a damaged one).
    /// `runner` and `freebsdPaths` are the host's own unless a test runs the agent on a stand-in.
    public init(
        configPath: String, shutdownGrace: Duration = .seconds(30), runner: any ProcessRunning = HostProcessRunner(),
        freebsdPaths: FreeBSDPaths = FreeBSDPaths()
    ) throws {
        try self.init(
            configPath: configPath, shutdownGrace: shutdownGrace, seams: AgentSeams(runner: runner, freebsdPaths: freebsdPaths))
    }

    /// The agent on `seams`: a test's drivers, clock and remote instead of the host's.
    package init(configPath: String, shutdownGrace: Duration = .seconds(30), seams: AgentSeams) throws {
        // Two malloc arenas are plenty for an agent that mostly waits; glibc's default (one per
        // thread, up to 8 per core) kept megabytes of freed memory spread over idle arenas.
        jp_limit_malloc_arenas(2)
        self.configPath = configPath
        let config = try ConfigLoader.load(path: configPath)
        self.config = config
        self.lock = try AgentLock(stateDir: config.agent.stateDir)
        self.runtime = try Runtime(
            config: config, echo: config.agent.logFile == nil, runner: seams.runner, freebsdPaths: seams.freebsdPaths,
            clock: seams.clock, crash: seams.crash)
        self.seams = seams
        self.slots = BuildSlots(config.agent.maxParallelBuilds)
        self.metrics = Metrics(path: config.agent.metricsFile, log: runtime.log)
        self.shutdownGrace = shutdownGrace
        self.configStamp = Self.stamp(configPath)
        self.listeners = Listeners(triggers: triggers, log: runtime.log)
        self.notifier = Notifier(runtime: runtime)
        // Removed from agent.conf before this start, still live: served as their last flip recorded.
        for app in runtime.served.all where config.app(app.name) == nil { retained[app.name] = app }
    }

    /// Control events from signals and timers.
    enum Control: Sendable { case stop, reload, tick }

    /// Runs until SIGTERM or SIGINT (or `stop()`), then drains and returns.
    public func run() async {
        let (events, control) = AsyncStream.makeStream(of: Control.self)
        stopControl = control
        installSignals(control)
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                control.yield(.tick)
            }
        }
        runtime.log.emit(
            app: "-", "agent.started", [("pid", "\(getpid())"), ("apps", config.apps.map(\.name).joined(separator: ","))])
        await metrics.set("jailpilot_up", [], 1)
        startResolver()
        await recover()
        listeners.update(config)
        listeners.start(stateDir: config.agent.stateDir, webhook: config.webhook)
        let delivering = startDeliveries()
        await applyRoutes()
        for app in config.apps { startWatcher(app, pinChanged: false) }
        await sweepRemovedApps()
        await metrics.describeReleases(config.apps, store: runtime.store, host: Notifier.hostName)
        await metrics.flush()
        for await event in events {
            switch event {
            case .stop:
                ticker.cancel()
                delivering.cancel()
                await drain()
                return
            case .reload:
                reload(reason: "SIGHUP")
            case .tick:
                if Self.stamp(configPath) != configStamp { reload(reason: "file changed") }
                await keepRoutes()
                if drainer == nil { drainer = Task { await retireDrained() } }
                ticks &+= 1
                if ticks % 10 == 0 {
                    rotateLogs()
                    // Deploys and polls leave freed heap pages in glibc's arenas: handed back
                    // within 10 s of the last one (a few hundred microseconds on an idle heap).
                    jp_trim_malloc()
                }
                // Holds, pins, probations ending, quarantines: what the fleet reads (a deploy
                // refreshes its own app at once). Seven store queries per app.
                if ticks % 30 == 0 {
                    await metrics.describeReleases(config.apps, store: runtime.store, host: Notifier.hostName)
                }
                if ticks % 3600 == 0 { await sweepRemovedApps() }
                // Every 5 s: node_exporter is scraped every 15 s or more, and the file says when
                // it was written.
                if ticks % 5 == 0 { await metrics.flush() }
            }
        }
    }

    private var stopControl: AsyncStream<Control>.Continuation?
    /// Ticks so far (some work runs every tenth).
    private var ticks = 0

    /// Rotates the logs of running releases that grew past `[jails] log_size`.
    func rotateLogs() {
        guard let host = try? runtime.jailHost() else { return }
        let jails = config.jails
        for app in config.apps {
            for release in (try? runtime.store.releases(app: app.name)) ?? []
            where release.state == .live || release.state == .standby {
                host.rotateLog(
                    JailSpec(release: release, app: app, layout: runtime.layout), limit: jails.logSize, keep: jails.logKeep)
            }
        }
    }

    /// Prunes the files of apps removed from agent.conf past their grace (hourly; see RemovedApps).
    func sweepRemovedApps() async {
        let removed = RemovedApps(store: runtime.store, layout: runtime.layout, log: runtime.log)
        do {
            try removed.sweep(configured: Set(config.apps.map(\.name)), grace: Retention.removedAppGrace)
            try await removed.emptyTrash()
        } catch {
            runtime.log.emitOnce(
                key: "state.prune_failed removed apps",
                Event(app: "-", name: "state.prune_failed", fields: [("error", "\(error)")]))
        }
    }

    /// Asks the agent to stop (what SIGTERM does).
    public func stop() { stopControl?.yield(.stop) }

    private func installSignals(_ control: AsyncStream<Control>.Continuation) {
        // A webhook or trigger peer that hangs up before its answer is written is no reason to die.
        signal(SIGPIPE, SIG_IGN)
        for (sig, event) in [(SIGTERM, Control.stop), (SIGINT, .stop), (SIGHUP, .reload)] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { control.yield(event) }
            source.resume()
            signalSources.append(source)
        }
    }

    /// Cancels every watcher (in-flight steps finish or are undone) and waits for them at most
    /// `shutdownGrace`: one stuck in a call that ignores cancellation is logged and left behind
    /// (the process exits under it; the next start recovers what it was doing).
    private func drain() async {
        runtime.log.emit(app: "-", "agent.stopping", [("watchers", "\(watchers.count)")])
        listeners.stop()
        let running = watchers.map { (name: $0.key, task: $0.value.task) }.sorted { $0.name < $1.name }
        running.forEach { $0.task.cancel() }
        let finished = FinishedWatchers()
        let inTime = await withTimeout(shutdownGrace) {
            await withTaskGroup(of: Void.self) { group in
                for watcher in running {
                    group.addTask {
                        await watcher.task.value
                        finished.add(watcher.name)
                    }
                }
            }
            return true
        }
        if inTime == nil {
            let left = running.map(\.name).filter { !finished.contains($0) }
            runtime.log.emit(
                app: "-", "agent.stop_timeout",
                [
                    ("grace", DurationText.format(shutdownGrace)), ("unfinished", left.joined(separator: ",")),
                    (
                        "note",
                        "stopping without them; what they were doing is undone or resumed at the next start (a deploy stuck in a host command: see the release log)"
                    ),
                ])
        }
        await metrics.set("jailpilot_up", [], 0)
        await metrics.flush()
        resolverStopped.set()
        runtime.log.emit(app: "-", "agent.stopped")
        lock.release()
    }

    func deployer() throws -> Deployer {
        if let make = seams.deployer { return try make(runtime, slots) }
        return try runtime.deployer(buildSlots: slots)
    }

    /// Delivers queued notifications every second (from this agent's events and CLI commands'),
    /// in a task of its own: a receiver that is slow or down never holds up a deploy.
    func startDeliveries() -> Task<Void, Never> {
        let metrics = self.metrics
        let notifier = self.notifier
        return Task {
            while !Task.isCancelled {
                let runtime = notifier.runtime
                // Nothing to do, not even a query, for an agent without receivers.
                if !runtime.config.agent.notify.isEmpty {
                    await notifier.deliverDue()
                    for (receiver, count) in notifier.undelivered() {
                        await metrics.set("jailpilot_notifications_undelivered", [("receiver", receiver)], Double(count))
                    }
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    static func stamp(_ path: String) -> String? { FileIO.stamp(path) }
}

/// The watchers that ended while the agent drained.
private final class FinishedWatchers: Sendable {
    private let names = Mutex(Set<String>())
    func add(_ name: String) { _ = names.withLock { $0.insert(name) } }
    func contains(_ name: String) -> Bool { names.withLock { $0.contains(name) } }
}
