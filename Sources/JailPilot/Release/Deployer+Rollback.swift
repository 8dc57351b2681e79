import FoundationEssentials

extension Deployer {
    /// Makes an earlier kept release live again and places a hold on the app.
    /// To a running (standby) release this is a flip only; to a stopped one, start + health + flip.
    public func rollback(_ app: AppConfig, to wanted: String? = nil) async throws -> DeployOutcome {
        let lock = try await AppLock.acquire(stateDir: runtime.config.agent.stateDir, app: app.name)
        defer { withExtendedLifetime(lock) {} }
        if let wanted, let problem = Names.shaProblem(wanted) {
            throw DeployError.rollbackRefused(app: app.name, what: "roll back", reason: "--to '\(wanted)' \(problem)")
        }
        let releases = try store.releases(app: app.name)
        let live = releases.first { $0.state == .live }
        let kept = releases.filter { [.standby, .retired].contains($0.state) }
        let target: Release?
        if let wanted {
            target = kept.first { $0.sha.hasPrefix(wanted.lowercased()) }
        } else {
            target = kept.max { $0.updated < $1.updated }
        }
        guard let target else {
            throw DeployError.noRelease(
                app: app.name, wanted: wanted, kept: kept.map { "\($0.sha.prefix(12)) (\($0.state.rawValue))" })
        }
        if app.verification.method != .none {
            // A kept release passed the gate when it was deployed; keys rotated since do not strand it.
            progress(
                "\(target.name): its commit was verified when it was deployed (verify = \(app.verification.method.rawValue)); not checked again"
            )
        }
        return try await finish(
            try await activateScript(app, target: target, live: live, hold: true, cause: "rollback"), live: live, phases: [])
    }

    /// Lifts the hold placed by rollback and deploys the pin or branch head again.
    public func resume(_ app: AppConfig) async throws -> DeployOutcome {
        if try store.release(holdOn: app.name) { log.emit(app: app.name, "hold.lifted") }
        return try await deploy(app, cause: "resume")
    }

    /// Brings a kept release back: started and health-gated if stopped, then flipped to.
    func activate(_ target: Release, app: AppConfig, replacing live: Release?, phases: [(String, Duration)], cause: String)
        async throws -> DeployOutcome
    {
        try await finish(
            try await activateScript(app, target: target, live: live, hold: false, cause: cause), live: live, phases: phases)
    }
}

extension Deployer {
    /// Removes every release of `app` (jails, filesystems, networks) and its route entry.
    /// The app's state history stays in the store; its releases are marked destroyed.
    public func remove(_ app: AppConfig) async throws -> Int {
        let lock = try await AppLock.acquire(stateDir: runtime.config.agent.stateDir, app: app.name)
        defer { withExtendedLifetime(lock) {} }
        try RouteTable.rebuild(from: store, stateDir: runtime.config.agent.stateDir, excluding: [app.name])
        let script = try removeScript(app)
        _ = try await run(script, live: nil)
        let removed = script.steps.filter { if case .destroy = $0 { true } else { false } }.count
        _ = try store.release(holdOn: app.name)
        try await sweepOrphans(app: app.name)
        // Caddy stops routing its hostnames now (they answered 503 until `jailpilot routes`); an
        // app still in agent.conf keeps its route, as the agent would deploy it again.
        if runtime.config.app(app.name) == nil {
            let others = runtime.served.all.filter { $0.name != app.name }
            do {
                let routed = runtime.routed(others)
                _ = try await router.applyRoutes(for: routed)
                try router.writeCaddyfile(for: routed)
            } catch {
                log.emit(
                    app: app.name, "routes.failed",
                    [
                        ("error", "\(error)"), ("effect", "Caddy still routes its hostnames (to no release)"),
                        ("fix", "jailpilot routes once Caddy answers"),
                    ])
            }
        }
        return removed
    }
}

extension Deployer {
    /// Deletes `app`'s data volume and every snapshot of it, for good: `remove APP --data`,
    /// after its releases are gone (no jail may mount it). Returns the snapshots it took along.
    public func removeData(_ app: AppConfig) async throws -> Int {
        let lock = try await AppLock.acquire(stateDir: runtime.config.agent.stateDir, app: app.name)
        defer { withExtendedLifetime(lock) {} }
        let jails = try store.releases(app: app.name).filter(\.state.hasJail)
        guard jails.isEmpty else {
            throw DeployError.failed(
                app: app.name, sha: jails[0].sha, step: "remove --data",
                reason: "\(jails.map(\.name).joined(separator: ", ")) still mount its data; nothing was deleted", log: nil)
        }
        for step in await host.destroyDataSteps(app: app.name) { recorder?.record(step) }
        try await host.destroyData(app: app.name)
        let snapshots = try store.snapshots(app: app.name)
        try store.forgetSnapshots(snapshots.map(\.id))
        log.emit(app: app.name, "data.destroyed", [("snapshots", "\(snapshots.count)"), ("by", "remove --data")])
        return snapshots.count
    }

    /// Re-applies the Caddy routes of `apps` (default: every configured app) and re-derives the
    /// route table from the store. Returns whether Caddy's configuration had to change.
    @discardableResult
    public func syncRoutes(for apps: [AppConfig]? = nil) async throws -> Bool {
        let routed = runtime.routed(apps ?? runtime.served.all)
        let changed = try await router.applyRoutes(for: routed)
        try router.writeCaddyfile(for: routed)
        let table = try RouteTable.rebuild(from: store, stateDir: runtime.config.agent.stateDir)
        log.emit(
            app: "-", changed ? "routes.applied" : "routes.unchanged",
            [("apps", table.addresses.keys.sorted().joined(separator: ","))])
        return changed
    }
}
