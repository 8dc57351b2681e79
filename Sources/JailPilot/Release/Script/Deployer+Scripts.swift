import FoundationEssentials

/// The scripts of every action, built from the store and the host as they are now. `plan`
/// prints what these return and the deployer runs it (Deployer+Run): one function per action,
/// used by both.
extension Deployer {
    /// A new release of `spec` over `live`: created, provisioned, its data snapshotted, started,
    /// its release step run, health-gated, flipped to, watched through probation while the
    /// replaced release keeps running, then every standby release retired and retention.
    func deployScript(_ app: AppConfig, spec: JailSpec, live: Release?, cause: String, at now: Date) throws -> ReleaseScript {
        let old = live.map { self.spec($0, app: app) }
        if app.strategy == .stopFirst, let old {
            return try stopFirstScript(app, spec: spec, old: old, cause: cause, at: now)
        }
        var steps: [ScriptStep] = [.routes, .create(spec), .provision(spec), .move(spec, .provisioned)]
        if app.data != nil { steps.append(.data(spec)) }
        steps += [.move(spec, .starting), .start(spec)]
        if !app.release.isEmpty { steps.append(.releaseStep(spec)) }
        steps += [.health(spec, passes: app.healthPasses), .move(spec, .healthy)]
        steps.append(.flip(to: spec, from: old, probation: old != nil))
        if let old { steps.append(.probation(spec, previous: old)) }
        let standby = try store.releases(app: app.name).filter { $0.state == .standby }.map { self.spec($0, app: app) }
        for running in (old.map { [$0] } ?? []) + standby { steps += [.retire(running), .move(running, .retired)] }
        let retention = steps.count
        steps += try retentionSteps(
            app, releases: projected(app, deploying: spec, at: now), snapshots: try store.snapshots(app: app.name))
        return ReleaseScript(
            kind: .deploy, app: app, steps: steps, retentionFrom: retention, undo: .abandon(spec), cause: cause)
    }

    /// Stop-first (`strategy = "stop-first"`): the new release is provisioned; then the live
    /// one is swapped out (out of the route, stopped), its data snapshotted as it left it, the
    /// new one started, its release step run, health-gated and flipped to. No probation: the
    /// replaced release is stopped (a rollback brings it back). A failure before the flip
    /// abandons the new release and starts the old one again.
    func stopFirstScript(_ app: AppConfig, spec: JailSpec, old: JailSpec, cause: String, at now: Date) throws -> ReleaseScript {
        var steps: [ScriptStep] = [.routes, .create(spec), .provision(spec), .move(spec, .provisioned), .swapOut(old)]
        if app.data != nil { steps.append(.data(spec)) }
        steps += [.move(spec, .starting), .start(spec)]
        if !app.release.isEmpty { steps.append(.releaseStep(spec)) }
        steps += [
            .health(spec, passes: app.healthPasses), .move(spec, .healthy), .flip(to: spec, from: old, probation: false),
            .move(old, .retired),
        ]
        let standby = try store.releases(app: app.name).filter { $0.state == .standby }.map { self.spec($0, app: app) }
        for running in standby { steps += [.retire(running), .move(running, .retired)] }
        let retention = steps.count
        steps += try retentionSteps(
            app, releases: projected(app, deploying: spec, at: now), snapshots: try store.snapshots(app: app.name))
        return ReleaseScript(
            kind: .deploy, app: app, steps: steps, retentionFrom: retention, undo: .abandonAndRestore(spec, live: old),
            cause: cause)
    }

    /// A kept release made live again over `live`: its data snapshotted as `live` leaves it
    /// (`snapshot`), started and health-gated once when it is stopped, flipped to; a rollback
    /// also holds the app at its commit. The replaced release stands by (the agent retires it).
    func activateScript(_ app: AppConfig, target: Release, live: Release?, snapshot: Bool = true, hold: Bool, cause: String)
        async throws -> ReleaseScript
    {
        let spec = self.spec(target, app: app)
        var steps: [ScriptStep] = [.routes]
        if snapshot, app.data != nil, let live, live.id != target.id { steps.append(.data(spec)) }
        var undo = ReleaseScript.Undo.none
        if await !host.isRunning(spec) {
            guard await host.exists(spec) else {
                throw DeployError.noRelease(
                    app: app.name, wanted: String(target.sha.prefix(12)), kept: ["its filesystem is gone"])
            }
            steps += [.move(spec, .starting), .start(spec), .health(spec, passes: ReleasePlan.keptPasses)]
            undo = .backToKept(spec)
        }
        steps.append(.flip(to: spec, from: live.map { self.spec($0, app: app) }, probation: false))
        if hold { steps.append(.hold(spec)) }
        return ReleaseScript(kind: .activate, app: app, steps: steps, undo: undo, cause: cause)
    }

    /// `rollback --with-data`: every running release stopped, the volume put back to the plan's
    /// snapshot (the newer ones destroyed), then the target started, health-checked and flipped
    /// to (or, when it is the live one, started on its own data again).
    public func dataRollbackScript(_ app: AppConfig, plan: DataRollbackPlan) throws -> ReleaseScript {
        let releases = try store.releases(app: app.name)
        let target = spec(plan.target, app: app)
        var steps: [ScriptStep] = [.routes]
        for release in releases where [.live, .standby].contains(release.state) {
            steps.append(.stop(spec(release, app: app)))
            if release.state == .standby { steps.append(.move(spec(release, app: app), .retired)) }
        }
        steps.append(.restore(app: app.name, snapshot: plan.snapshot.name, newer: plan.newer.map(\.name)))
        guard let live = plan.live, live.id != plan.target.id else {
            steps += [.start(target), .health(target, passes: app.healthPasses)]
            return ReleaseScript(kind: .dataRollback, app: app, steps: steps, cause: "rollback")
        }
        let liveSpec = spec(live, app: app)
        steps += [
            .move(target, .starting), .start(target), .health(target, passes: ReleasePlan.keptPasses),
            .flip(to: target, from: liveSpec, probation: false), .move(liveSpec, .retired), .hold(target),
        ]
        return ReleaseScript(kind: .dataRollback, app: app, steps: steps, undo: .restartLive(liveSpec), cause: "rollback")
    }

    /// Every standby release of `app` but `live` (or only `only`) stopped once drained and
    /// retired, then retention as the store will be once they are.
    func retireScript(_ app: AppConfig, keepRunning live: Release?, only: Release? = nil) throws -> ReleaseScript {
        let releases = try store.releases(app: app.name)
        let retiring = releases.filter { release in
            release.id != live?.id && (only.map { $0.id == release.id } ?? (release.state == .standby))
        }
        var steps: [ScriptStep] = []
        for release in retiring { steps += [.retire(spec(release, app: app)), .move(spec(release, app: app), .retired)] }
        let ids = Set(retiring.map(\.id))
        let after = releases.map { release -> Release in
            var release = release
            if ids.contains(release.id) { release.state = .retired }
            return release
        }
        let retention = steps.count
        steps += try retentionSteps(app, releases: after, snapshots: try store.snapshots(app: app.name))
        return ReleaseScript(kind: .retire, app: app, steps: steps, retentionFrom: retention)
    }

    /// One release's jail removed and recorded destroyed.
    func destroyScript(_ app: AppConfig, release: Release) -> ReleaseScript {
        let spec = spec(release, app: app)
        return ReleaseScript(kind: .destroy, app: app, steps: [.destroy(spec), .move(spec, .destroyed)])
    }

    /// Every release of `app` that may still have a jail removed and recorded destroyed.
    func removeScript(_ app: AppConfig) throws -> ReleaseScript {
        let steps = try store.releases(app: app.name).filter(\.state.hasJail).flatMap { release -> [ScriptStep] in
            let spec = spec(release, app: app)
            return [.destroy(spec), .move(spec, .destroyed)]
        }
        return ReleaseScript(kind: .remove, app: app, steps: steps, cause: "remove")
    }

    /// Retention as steps, when `releases` and `snapshots` are what the store holds: each
    /// release past `keep` destroyed, each snapshot no kept release needs, each file.
    func retentionSteps(_ app: AppConfig, releases: [Release], snapshots: [DataSnapshot]) throws -> [ScriptStep] {
        let plan = try retentionPlan(app, releases: releases, snapshots: snapshots)
        var steps: [ScriptStep] = []
        for release in plan.destroy { steps += [.destroy(spec(release, app: app)), .move(spec(release, app: app), .destroyed)] }
        for snapshot in plan.snapshots { steps.append(.destroySnapshot(app: app.name, name: snapshot.name)) }
        return steps + plan.files.map { .remove(path: $0) }
    }

    /// How `script` reads on this host now (what `jailpilot plan` prints).
    public func render(_ script: ReleaseScript, at time: Date? = nil) async throws -> [HostStep] {
        var adding: JailNetworkPolicy.Member?
        switch script.undo {
        case .abandon(let spec), .abandonAndRestore(let spec, _):
            adding = JailNetworkPolicy.Member(app: script.app.name, address: spec.address, port: script.app.port)
        default: break
        }
        let stateDir = runtime.config.agent.stateDir
        return await ReleasePlan(
            host: host, app: script.app, stateDir: stateDir, routes: RouteTable.load(stateDir: stateDir),
            policy: try networkPolicy(adding: adding), at: time ?? clock.date
        ).render(script)
    }
}
