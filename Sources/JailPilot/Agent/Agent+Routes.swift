import FoundationEssentials

extension Agent {
    /// Apps Caddy must route: configured ones, and removed ones that still have a live release.
    var routedApps: [AppConfig] {
        runtime.routed(
            config.apps + retained.values.filter { r in !config.apps.contains { $0.name == r.name } }.sorted { $0.name < $1.name }
        )
    }

    /// Applies Caddy's routes for configured apps and retained ones; retried every tick on
    /// failure, which is logged once until it succeeds again.
    func applyRoutes() async {
        do {
            try await deployer().syncRoutes(for: routedApps)
            if routesFailing { runtime.log.emit(app: "-", "routes.restored", [("why", "Caddy's admin API answers again")]) }
            routesApplied = true
            routesFailing = false
        } catch {
            noteRoutesFailed(error)
        }
    }

    /// Every tick (1 s): the route table must say what the store says, and Caddy must still
    /// serve jailpilot's routes. A deleted, truncated or stale routes file is rewritten; a Caddy
    /// that restarted or was reloaded with another config (an operator's Caddyfile) gets the
    /// routes back. The Caddy check is one request to the probe server jailpilot keeps in
    /// Caddy's config, not to the admin API, which logs every request it gets.
    func keepRoutes() async {
        let stateDir = config.agent.stateDir
        // Taken before the check: a change made during it shows at the next tick.
        let stamp = runtime.store.changeStamp + " " + (FileIO.stamp(RouteTable.path(stateDir: stateDir)) ?? "missing")
        do {
            // Nothing to compare while neither the store nor the file changed (the check reads
            // every live release: at 101 apps a few percent of the idle agent's CPU).
            if stamp != routesChecked, let before = try RouteTable.repair(from: runtime.store, stateDir: stateDir) {
                let was =
                    before.addresses.isEmpty
                    ? "missing or empty"
                    : before.addresses.sorted { $0.key < $1.key }
                        .map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                runtime.log.emit(app: "-", "routes.repaired", [("file", RouteTable.path(stateDir: stateDir)), ("was", was)])
            }
            repairFailing = false
            routesChecked = stamp
        } catch {
            routesChecked = nil
            if !repairFailing {
                runtime.log.emit(app: "-", "routes.repair_failed", [("error", "\(error)"), ("retry", "every second")])
            }
            repairFailing = true
        }
        forgetRetainedWithoutLiveRelease()
        guard routesApplied else { return await applyRoutes() }
        if let quiet = probeQuietUntil, ContinuousClock.now < quiet { return }
        // The router alone: building the whole deployer (driver, owner marker) every second is waste.
        let router = runtime.router()
        guard await router.routesPresent(for: routedApps) == false else { return }
        do {
            if try await router.applyRoutes(for: routedApps) {
                runtime.log.emit(
                    app: "-", "routes.restored",
                    [
                        ("why", "Caddy no longer had jailpilot's routes (restarted or reloaded)"),
                        ("apps", routedApps.map(\.name).joined(separator: ",")),
                    ])
            } else {
                // Caddy's config was right, yet the probe did not answer: something else holds
                // its port. Say so once a minute rather than asking the admin API every second.
                runtime.log.emit(
                    app: "-", "routes.probe_unanswered",
                    [("probe", config.caddy.probe ?? "-"), ("note", "is another program on that port? set [caddy] probe")])
                probeQuietUntil = ContinuousClock.now + .seconds(60)
            }
        } catch {
            noteRoutesFailed(error)
        }
    }

    /// A removed app whose last live release went (`jailpilot remove`) is no longer served: its
    /// route goes at the next apply, and the policy no longer names it.
    func forgetRetainedWithoutLiveRelease() {
        let gone = retained.keys.filter { (try? runtime.store.live(app: $0)) == .some(nil) }
        guard !gone.isEmpty else { return }
        for name in gone {
            retained[name] = nil
            runtime.log.emit(app: name, "app.unserved", [("note", "removed from agent.conf and no release is live")])
        }
        runtime.served.replace(with: routedApps)
        routesApplied = false
    }

    private func noteRoutesFailed(_ error: Error) {
        if !routesFailing {
            runtime.log.emit(app: "-", "routes.failed", [("error", "\(error)"), ("retry", "every second")])
        }
        routesFailing = true
        routesApplied = false
    }

    /// Every tick: replaced releases that were still serving connections are stopped once those
    /// close or their drain_timeout passes.
    func retireDrained() async {
        defer { drainer = nil }
        guard let draining = try? runtime.store.releases(in: [.standby]).filter(\.isDraining), !draining.isEmpty,
            let deployer = try? deployer()
        else { return }
        for name in Set(draining.map(\.app)) {
            guard let app = config.app(name) ?? retained[name] else { continue }
            do { try await deployer.retireDrained(app) } catch {
                runtime.log.emit(app: name, "retire.failed", [("error", "\(error)")])
            }
        }
    }
}
