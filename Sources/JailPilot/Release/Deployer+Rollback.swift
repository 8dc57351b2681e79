import FoundationEssentials

extension Deployer {
    /// Makes an earlier kept release live again and places a hold on the app.
    /// To a running (standby) release this is a flip only; to a stopped one, start + health + flip.
    public func rollback(_ app: AppConfig, to wanted: String? = nil) async throws -> DeployOutcome {
        let lock = try await AppLock.acquire(stateDir: runtime.config.agent.stateDir, app: app.name)
        defer { withExtendedLifetime(lock) {} }
        if let wanted, let problem = Names.shaProblem(wanted) {
            throw DeployError.noRelease(app: app.name, wanted: wanted, kept: [problem])
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
        let outcome = try await activate(target, app: app, replacing: live, phases: [], cause: "rollback")
        try store.hold(app: app.name, sha: target.sha)
        log.emit(app: app.name, sha: target.sha, "hold.placed", [("by", "rollback")])
        return outcome
    }

    /// Lifts the hold placed by rollback and deploys the pin or branch head again.
    public func resume(_ app: AppConfig) async throws -> DeployOutcome {
        if try store.release(holdOn: app.name) { log.emit(app: app.name, "hold.lifted") }
        return try await deploy(app, cause: "resume")
    }

    /// Brings a kept release back: started and health-gated if stopped, then flipped to.
    func activate(
        _ target: Release, app: AppConfig, replacing live: Release?, phases: [(String, Duration)], snapshot: Bool = true,
        cause: String
    ) async throws -> DeployOutcome {
        var phases = phases
        let clock = self.clock
        var mark = clock.now
        let spec = self.spec(target, app: app)
        var target = target
        try await ensureRoutes()
        // Before each flip, the data as the live release leaves it (plain rollback leaves data alone).
        if snapshot, let live, live.id != target.id { try await takeSnapshot(for: target, app: app, holding: live) }
        if await !host.isRunning(spec) {
            guard await host.exists(spec) else {
                throw DeployError.noRelease(
                    app: app.name, wanted: String(target.sha.prefix(12)), kept: ["its filesystem is gone"])
            }
            progress("starting kept release \(spec.name) on \(spec.address)")
            target = try store.update(target, state: .starting)
            do {
                try await startJail(spec)
                phases.append(("start", clock.now - mark))
                mark = clock.now
                try await healthGate(app, spec, passes: ReleasePlan.keptPasses)
                phases.append(("health", clock.now - mark))
                mark = clock.now
            } catch {
                try? await host.stop(spec)
                _ = try? store.update(target, state: .retired)
                let reason = (error as? HealthGateError)?.reason ?? "\(error)"
                note(app.name, from: live?.sha, to: target.sha, cause: cause, outcome: "failed", detail: "start: \(reason)")
                log.emit(app: app.name, sha: target.sha, "release.failed", [("step", "start"), ("reason", reason)])
                throw DeployError.failed(app: app.name, sha: target.sha, step: "start", reason: reason, log: host.logPath(spec))
            }
        }
        let flipStart = clock.now
        let flipped = try await flip(to: target, from: live, app: app)
        try await clock.sleep(for: flipWait)
        phases.append(("flip", clock.now - flipStart))
        let final = try store.update(flipped, state: .live, phases: phases.map { ($0.0, $0.1.seconds) })
        note(app.name, from: live?.sha, to: final.sha, cause: cause, outcome: "live", phases: phases)
        log.emit(
            app: app.name, sha: final.sha, "release.live", took: phases.reduce(.zero) { $0 + $1.1 },
            phases.map { ($0.0, Logfmt.seconds($0.1)) })
        return DeployOutcome(release: final, previous: live, phases: phases, unchanged: false)
    }
}

extension Deployer {
    /// Removes every release of `app` (jails, filesystems, networks) and its route entry.
    /// The app's state history stays in the store; its releases are marked destroyed.
    public func remove(_ app: AppConfig) async throws -> Int {
        let lock = try await AppLock.acquire(stateDir: runtime.config.agent.stateDir, app: app.name)
        defer { withExtendedLifetime(lock) {} }
        try RouteTable.rebuild(from: store, stateDir: runtime.config.agent.stateDir, excluding: [app.name])
        var removed = 0
        for release in try store.releases(app: app.name) where release.state.hasJail {
            try await host.destroy(spec(release, app: app))
            try store.update(release, state: .destroyed)
            log.emit(app: app.name, sha: release.sha, "release.destroyed", [("by", "remove")])
            removed += 1
        }
        _ = try store.release(holdOn: app.name)
        try await sweepOrphans(app: app.name)
        return removed
    }
}

extension Deployer {
    /// Re-applies the Caddy routes of `apps` (default: every configured app) and re-derives the
    /// route table from the store. Returns whether Caddy's configuration had to change.
    @discardableResult
    public func syncRoutes(for apps: [AppConfig]? = nil) async throws -> Bool {
        let changed = try await router.applyRoutes(for: apps ?? runtime.served.all)
        try router.writeCaddyfile(for: apps ?? runtime.served.all)
        let table = try RouteTable.rebuild(from: store, stateDir: runtime.config.agent.stateDir)
        log.emit(
            app: "-", changed ? "routes.applied" : "routes.unchanged",
            [("apps", table.addresses.keys.sorted().joined(separator: ","))])
        return changed
    }
}
