import FoundationEssentials

extension Deployer {
    /// How long after a flip Caddy may still send new requests to the release it replaced (its
    /// cached lookup, `[caddy] refresh`) — DESIGN "What the waits buy".
    var flipWait: Duration { runtime.config.caddy.refresh + .milliseconds(20) }

    /// Routes `app` to `release`: the store first (the truth), then the route table Caddy reads.
    @discardableResult
    func flip(to release: Release, from old: Release?, app: AppConfig, probation: Bool = false) async throws -> Release {
        let start = clock.now
        guard let address = release.address else {
            throw DeployError.failed(app: app.name, sha: release.sha, step: "flip", reason: "release has no address", log: nil)
        }
        // The boot set first: if it fails, nothing has flipped yet.
        try await host.promote(spec(release, app: app), replacing: old.map { spec($0, app: app) })
        // A release on another port: Caddy's route moves to it first, while the route table
        // still names the old release (new requests to the old address on the new port are
        // refused and retried by Caddy until the table flips; those in flight finish).
        let port = spec(release, app: app).port
        if let old, spec(old, app: app).port != port { try await ensureRoutes(overriding: [app.name: port]) }
        recorder?.record(ReleasePlan.flipNote(spec(release, app: app), from: old.map { spec($0, app: app) }))
        let (live, table) = try await RouteTable.commit(store: store, stateDir: runtime.config.agent.stateDir) {
            let live = try store.flip(to: release, from: old, probation: probation, route: ServedRoute(app))
            await crash.reach("flip")
            return live
        }
        recorder?.record(ReleasePlan.routeWrite(stateDir: runtime.config.agent.stateDir, table))
        progress("flipped \(app.name) to \(release.name) at \(address)")
        log.emit(
            app: app.name, sha: release.sha, "flip", took: clock.now - start,
            [("to", address)] + (old.map { [("from", $0.address ?? "-")] } ?? []))
        return live
    }

    /// Watches `live` through its probation while `previous` keeps running. On failure it flips
    /// back, destroys `live` and quarantines its commit. If the agent stops meanwhile, both stay
    /// as they are (the store still names `previous`) and the next start resumes the probation.
    func probationOrRevert(_ live: Release, app: AppConfig, previous: Release) async throws -> Release {
        let spec = spec(live, app: app)
        let failure = await probation(app, spec)
        try Task.checkCancellation()
        guard let failure else { return try store.endProbation(live) }
        if live.releaseStepRan {
            // Flipping back would put the old code on data its release step may have migrated.
            let live = try store.endProbation(live)
            let snapshot = try store.snapshots(app: app.name).last { $0.releaseID == live.id }?.name
            note(app.name, from: previous.sha, to: live.sha, cause: live.cause, outcome: "held", detail: failure)
            log.emit(
                app: app.name, sha: live.sha, "probation.held",
                [("reason", failure), ("note", "not flipped back: its release step ran"), ("standby", previous.name)]
                    + (snapshot.map { [("snapshot", $0)] } ?? []))
            throw DeployError.held(app: app.name, sha: live.sha, reason: failure, snapshot: snapshot)
        }
        _ = try await flip(to: previous, from: live, app: app)
        let kept = keepLog(spec, app: app)
        // Caddy may still send new requests to `live` from its cached lookup for the flip wait:
        // it is destroyed after that. Cleanup must finish even if the agent is asked to stop now.
        let (host, clock, wait) = (self.host, self.clock, flipWait)
        let destroyed: Error? = await Task.detached {
            try? await clock.sleep(for: wait)
            do { try await host.destroy(spec) } catch { return error }
            return nil
        }.value
        if let destroyed {
            log.emit(
                app: app.name, sha: live.sha, "release.destroy_failed",
                [
                    ("jail", spec.name), ("error", "\(destroyed)"), ("note", "flipped back; its jail is left"),
                    ("fix", "the agent's next start removes it (orphan sweep), or jailpilot remove after fixing the host"),
                ])
        }
        _ = try store.update(live, state: .failed, step: "probation", reason: failure)
        note(app.name, from: previous.sha, to: live.sha, cause: live.cause, outcome: "reverted", detail: "probation: \(failure)")
        note(app.name, from: live.sha, to: previous.sha, cause: "flip-back", outcome: "live")
        quarantine(app, sha: live.sha, reason: "probation: \(failure)", env: live.env)
        log.emit(
            app: app.name, sha: live.sha, "release.reverted",
            [("reason", failure), ("back_to", String(previous.sha.prefix(12)))])
        throw DeployError.reverted(app: app.name, sha: live.sha, reason: failure, log: kept)
    }

    /// Watches the new release for `app.probation`; returns why it failed, or nil (also when the
    /// task is cancelled: the caller checks).
    func probation(_ app: AppConfig, _ spec: JailSpec) async -> String? {
        let probe = probe(app)
        let end = clock.now + app.probation
        var failures = 0
        while clock.now < end, !Task.isCancelled {
            if let problem = await probe.check(address: spec.address, port: spec.port) {
                failures += 1
                if failures >= 3 { return problem }
            } else {
                failures = 0
            }
            await crash.reach("probation")
            try? await clock.sleep(for: .milliseconds(500))
        }
        return nil
    }

    /// Stops every running release of `app` but the live one, then keeps the newest `keep`
    /// stopped releases and destroys older ones — jail, filesystem, network, config: the
    /// retire script (Deployer+Scripts), run.
    ///
    /// A standby release that still has open connections (streams, WebSockets) keeps running
    /// until they close or `drain_timeout` has passed since it was replaced; the agent comes
    /// back to it every second (`retireDrained`).
    func retire(app: AppConfig, keepRunning live: Release) async throws {
        _ = try await run(try retireScript(app, keepRunning: live), live: live)
    }

    /// What the drain gate found.
    enum Drain {
        /// Connections are still open within drain_timeout: the release keeps running (marked draining).
        case waiting(Release)
        /// It may stop now; how it drained, for the log.
        case drained(String)
    }

    /// The drain gate of one standby release: Caddy's idle keep-alive connections get a moment
    /// to close; live requests and streams hold it until drain_timeout after it was replaced.
    func drain(_ release: Release, spec: JailSpec, app: AppConfig) async throws -> Drain {
        var open = await host.openConnections(spec) ?? 0
        // Caddy keeps idle keep-alive connections to an upstream for `upstreamIdle`: give
        // those a moment to close, so that only live requests and streams hold the release.
        let settle = clock.now + CaddyRouter.upstreamIdle + .milliseconds(500)
        while open > 0, !release.isDraining, clock.now < settle {
            try await clock.sleep(for: .milliseconds(250))
            open = await host.openConnections(spec) ?? 0
        }
        let waited = clock.date.timeIntervalSince(release.updated)
        if open > 0, waited < app.drainTimeout.seconds {
            guard !release.isDraining else { return .waiting(release) }
            let marked = try store.markDraining(release)
            log.emit(
                app: app.name, sha: release.sha, "release.draining",
                [("connections", "\(open)"), ("until", "they close, at most \(DurationText.format(app.drainTimeout))")])
            progress("\(release.name) still has \(open) open connection(s); it is stopped when they close")
            return .waiting(marked)
        }
        return .drained(
            open > 0
                ? "drain_timeout (\(DurationText.format(app.drainTimeout))) ran out with \(open) connection(s) open"
                : release.isDraining ? "its last connection closed" : "no open connections")
    }

    /// The jail spec of an existing release (its artifact stays where the build put it).
    func spec(_ release: Release, app: AppConfig) -> JailSpec {
        JailSpec(release: release, app: app, layout: runtime.layout)
    }
}
