import Synchronization

extension Agent {
    /// Answers Caddy's route lookups on `[caddy] resolver` beside `jailpilot resolver`, both on
    /// one shared UDP port: while either restarts (an upgrade, its supervisor, a crash), the
    /// other answers, so no request fails for want of a lookup. Runs until the agent stops.
    func startResolver() {
        let address = config.caddy.resolver
        let stateDir = config.agent.stateDir
        let log = runtime.log
        let stopped = resolverStopped
        let started = detachThread {
            do {
                try RouteResolver(stateDir: stateDir).serve(on: address, until: { stopped.isSet })
            } catch {
                log.emit(
                    app: "-", "resolver.failed",
                    [("error", "\(error)"), ("note", "`jailpilot resolver` answers alone; restart the agent to retry")])
            }
        }
        log.emit(app: "-", started ? "resolver.started" : "resolver.failed", [("address", address)])
    }
}

/// A flag one task sets and a thread polls.
public final class StopSignal: Sendable {
    private let flag = Mutex(false)

    public init() {}

    /// Whether `set` was called.
    public var isSet: Bool { flag.withLock { $0 } }

    /// Raises the flag.
    public func set() { flag.withLock { $0 = true } }
}
