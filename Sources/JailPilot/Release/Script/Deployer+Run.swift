import FoundationEssentials

/// What running a script ended with.
struct ScriptRun: Sendable {
    /// The release the script made live (as the store holds it now), if it did.
    var live: Release?
    /// Phase durations in order.
    var phases: [(String, Duration)]
}

/// The interpreter of release scripts: the only code that runs a deploy, rollback, retire,
/// destroy or removal. Each step is noted (the deployer's own lines; drivers note their
/// commands as they run them) and recorded in the store before the next one runs.
extension Deployer {
    /// What the run knows so far: the app's releases by name, the snapshot taken, phases.
    struct RunState {
        var releases: [String: Release]
        var snapshot: DataSnapshot?
        var phases: [(String, Duration)]
        var mark: ContinuousClock.Instant
        /// Set by the flip: from here on a failure is not undone by the script's undo.
        var flipped = false
        /// Releases a drain left running: their move to retired is skipped.
        var draining: Set<String> = []
        /// How each stopped release drained, for its `release.retired` line.
        var drained: [String: String] = [:]
        /// The row `.create` made.
        var created: Release?
        /// Set once the data was put back (`.restore`).
        var restored = false
        /// Set once a stop-first swap took the live release out (`.swapOut`).
        var swappedOut = false
        var live: Release?
    }

    /// Runs `script` for `app`; `phases` are those before it (the build), `live` the release
    /// live when the script was made.
    func run(_ script: ReleaseScript, live: Release?, phases: [(String, Duration)] = []) async throws -> ScriptRun {
        let app = script.app
        var state = RunState(
            releases: Dictionary(try store.releases(app: app.name).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a }),
            phases: phases, mark: clock.now, live: live)
        var steps = Array(script.main)
        var index = 0
        while index < steps.count {
            let step = steps[index]
            do {
                if case .create(let planned) = step {
                    let made = try await create(planned, script: script, state: &state)
                    if made.address != planned.address { steps = steps.map { $0.replacing(planned, with: made) } }
                } else {
                    try await perform(step, script: script, state: &state)
                }
            } catch {
                throw await undo(script, after: error, at: step, state: state)
            }
            index += 1
        }
        if script.retentionFrom != nil {
            // Worked out again from the store as the steps above left it (the plan showed it
            // as the store was to be).
            let retention = try retentionSteps(
                app, releases: try store.releases(app: app.name), snapshots: try store.snapshots(app: app.name))
            for step in retention { try await perform(step, script: script, state: &state) }
            try await pruned(app, files: retention.filter { if case .remove = $0 { true } else { false } }.count)
            if script.kind == .deploy { phase("retire", &state) }
        }
        return ScriptRun(live: state.live, phases: state.phases)
    }

    /// Ends a phase named `name` now.
    func phase(_ name: String, _ state: inout RunState) {
        let now = clock.now
        state.phases.append((name, now - state.mark))
        progress("\(name) done in \(Logfmt.seconds(now - state.mark))")
        state.mark = now
    }

    /// The row of `spec`'s release as the run last saw it.
    func row(_ spec: JailSpec, _ state: RunState) throws -> Release {
        guard let release = state.releases[spec.name] else {
            throw DeployError.failed(
                app: spec.app, sha: spec.sha, step: "store", reason: "\(spec.name) is not in the state store", log: nil)
        }
        return release
    }

    /// `.create`: the checks that the name and host are ours, then the row, at the planned
    /// address when it is still free.
    func create(_ spec: JailSpec, script: ReleaseScript, state: inout RunState) async throws -> JailSpec {
        try await requireStoreMatchesHost()
        try await claimName(spec, app: script.app)
        recorder?.record(ReleasePlan.createNote(spec))
        let release = try store.createRelease(
            app: script.app.name, sha: spec.sha, allocating: AddressPool(config: runtime.config, store: store),
            excluding: await host.addressesInUse(), env: spec.envDigest, cause: script.cause,
            mark: script.mark, port: spec.port)
        var made = spec
        made.address = release.address ?? ""
        state.releases[made.name] = release
        state.created = release
        log.emit(
            app: script.app.name, sha: spec.sha, "release.started",
            [("jail", made.name), ("address", made.address), ("cause", script.cause)]
                + ((spec.env?.values.isEmpty ?? true) ? [] : [("env", spec.env?.names.joined(separator: ",") ?? "")]))
        return made
    }

    /// Runs one step (not `.create`).
    func perform(_ step: ScriptStep, script: ReleaseScript, state: inout RunState) async throws {
        let app = script.app
        switch step {
        case .routes:
            try await ensureRoutes()
        case .create:
            preconditionFailure("create is run by run(_:)")
        case .provision(let spec):
            progress("provisioning jail \(spec.name)")
            await crash.reach("clone")
            try await host.provision(spec)
        case .data(let spec):
            state.snapshot = try await takeSnapshot(for: try row(spec, state), app: app, holding: state.live)
        case .start(let spec):
            progress("starting \(spec.name) on \(spec.address):\(spec.port)")
            await crash.reach("start")
            try await startJail(spec)
            phase("start", &state)
        case .releaseStep(let spec):
            state.releases[spec.name] = try await releaseStep(
                app, spec, release: try row(spec, state), snapshot: state.snapshot, live: state.live)
            phase("release step", &state)
        case .health(let spec, let passes):
            progress("waiting for GET \(app.health) to answer 200 \(passes) times")
            await crash.reach("health")
            try await healthGate(app, spec, passes: passes)
            phase("health", &state)
            if script.kind == .deploy { log.emit(app: app.name, sha: spec.sha, "healthy", took: state.phases.last?.1) }
        case .move(let spec, let target):
            if target == .retired, state.draining.contains(spec.name) { return }
            recorder?.record(ReleasePlan.moveNote(spec, target))
            let release = try row(spec, state)
            state.releases[spec.name] = try store.update(release, state: target)
            if target == .provisioned { phase("provision", &state) }
            if target == .retired, script.kind == .deploy || script.kind == .retire {
                log.emit(
                    app: app.name, sha: spec.sha, "release.retired",
                    [("drained", state.drained[spec.name] ?? "no open connections")])
            }
            if target == .destroyed {
                log.emit(app: app.name, sha: spec.sha, "release.destroyed", script.kind == .remove ? [("by", "remove")] : [])
            }
        case .flip(let to, let from, let probation):
            let release = try row(to, state)
            let old = try from.map { try row($0, state) }
            let live = try await flip(to: release, from: old, app: app, probation: probation)
            state.flipped = true
            state.releases[to.name] = live
            if let old, let moved = try store.release(id: old.id) { state.releases[moved.name] = moved }
            state.live = live
            try await clock.sleep(for: flipWait)
            phase("flip", &state)
        case .probation(let spec, let previous):
            recorder?.record(ReleasePlan.probationNote(app, spec))
            let prior = try row(previous, state)
            progress("probation: watching \(spec.name) for \(DurationText.format(app.probation)); \(prior.name) keeps running")
            let live = try await probationOrRevert(try row(spec, state), app: app, previous: prior)
            state.releases[spec.name] = live
            state.live = live
            phase("probation", &state)
        case .retire(let spec):
            recorder?.record(ReleasePlan.drainNote(app, spec))
            let release = try row(spec, state)
            switch try await drain(release, spec: spec, app: app) {
            case .waiting(let marked):
                state.draining.insert(spec.name)
                state.releases[spec.name] = marked
            case .drained(let how):
                await crash.reach("retire")
                try await host.stop(spec)
                state.drained[spec.name] = how
            }
        case .stop(let spec):
            try await host.stop(spec)
        case .destroy(let spec):
            await crash.reach("destroy")
            try await host.destroy(spec)
        case .destroySnapshot(let app, let name):
            if SnapshotName.isValid(name) { try await host.destroySnapshot(app: app, name: name) }
            try store.forgetSnapshots(try store.snapshots(app: app).filter { $0.name == name }.map(\.id))
            log.emit(app: app, "data.snapshot_destroyed", [("snapshot", name)])
        case .remove(let path):
            do {
                try await PlanExecutor(runner: runtime.runner, recorder: recorder).execute([.remove(path: path)])
            } catch {
                log.emitOnce(
                    key: "state.prune_failed \(app.name)",
                    Event(app: app.name, name: "state.prune_failed", fields: [("error", "\(error)")]))
            }
        case .restore(let app, let snapshot, let newer):
            progress("restoring \(script.app.data ?? "data") to snapshot \(snapshot)")
            try await host.restoreData(app: app, name: snapshot, newer: newer)
            let all = try store.snapshots(app: app)
            try store.forgetSnapshots(all.filter { newer.contains($0.name) }.map(\.id))
            state.restored = true
            log.emit(
                app: app, sha: script.target?.sha, "data.restored",
                [("snapshot", snapshot), ("destroyed", newer.joined(separator: ","))])
        case .swapOut(let spec):
            recorder?.record(ReleasePlan.swapOutNote(app, spec))
            let release = try row(spec, state)
            let stateDir = runtime.config.agent.stateDir
            let (out, table) = try await RouteTable.commit(store: store, stateDir: stateDir) { try store.markSwappedOut(release) }
            recorder?.record(ReleasePlan.routeWrite(stateDir: stateDir, table))
            state.releases[spec.name] = out
            state.swappedOut = true
            log.emit(app: app.name, sha: spec.sha, "release.swapped_out", [("jail", spec.name), ("strategy", "stop-first")])
            // Caddy's cached lookup may name it for the flip wait: then it stops.
            try await clock.sleep(for: flipWait)
            progress("stopping \(spec.name) (stop-first): requests wait in Caddy until the new release is live")
            try await host.stop(spec)
            phase("swap out", &state)
        case .hold(let spec):
            recorder?.record(ReleasePlan.holdNote(spec))
            try store.hold(app: app.name, sha: spec.sha)
            log.emit(
                app: app.name, sha: spec.sha, "hold.placed",
                [("by", script.kind == .dataRollback ? "rollback --with-data" : "rollback")])
        }
    }

    /// The events table capped after a retention that ran; said once when anything went.
    func pruned(_ app: AppConfig, files: Int) async throws {
        do {
            let events = try store.capEvents(keeping: Retention.events)
            if files > 0 || events > 0 {
                log.emit(app: app.name, "state.pruned", [("files", "\(files)"), ("events", "\(events)")])
            }
        } catch {
            log.emitOnce(
                key: "state.prune_failed \(app.name)",
                Event(app: app.name, name: "state.prune_failed", fields: [("error", "\(error)")]))
        }
    }

    /// What a failure of `step` undoes, by the script's `undo`; returns the error to throw.
    func undo(_ script: ReleaseScript, after error: Error, at step: ScriptStep, state: RunState) async -> Error {
        let app = script.app
        guard !state.flipped else { return error }
        switch script.undo {
        case .none:
            return error
        case .abandon(let planned):
            // Before the row exists (the checks, the address), nothing was made.
            guard let created = state.created, let release = state.releases[planned.name], release.id == created.id else {
                return error
            }
            var made = planned
            made.address = release.address ?? planned.address
            let inStep = error is ReleaseStepError || (release.releaseStepRan && release.state == .starting)
            let name = inStep ? "release step" : release.state == .healthy ? "flip" : nextStep(release.state)
            return await abandon(release, spec: made, app: app, step: name, error: error)
        case .backToKept(let spec):
            guard let release = state.releases[spec.name] else { return error }
            let host = self.host
            await Task.detached { try? await host.stop(spec) }.value
            do { _ = try store.update(release, state: .retired) } catch {
                log.emit(app: app.name, sha: spec.sha, "store.write_failed", [("release", spec.name), ("error", "\(error)")])
            }
            let reason = (error as? HealthGateError)?.reason ?? "\(error)"
            note(
                app.name, from: state.live?.sha, to: spec.sha, cause: script.cause, outcome: "failed", detail: "start: \(reason)")
            log.emit(app: app.name, sha: spec.sha, "release.failed", [("step", "start"), ("reason", reason)])
            return DeployError.failed(app: app.name, sha: spec.sha, step: "start", reason: reason, log: host.logPath(spec))
        case .abandonAndRestore(let planned, let live):
            let abandoned = await undo(
                ReleaseScript(kind: script.kind, app: app, steps: [], undo: .abandon(planned), cause: script.cause),
                after: error, at: step, state: state)
            guard state.swappedOut, let old = state.releases[live.name] else { return abandoned }
            progress("\(planned.name) did not go live; starting \(live.name) again")
            do {
                try await bringBack(app, live, passes: ReleasePlan.keptPasses)
                let stateDir = runtime.config.agent.stateDir
                _ = try await RouteTable.commit(store: store, stateDir: stateDir) { try store.endSwap(old) }
                log.emit(app: app.name, sha: live.sha, "release.swapped_back", [("jail", live.name)])
            } catch {
                log.emit(
                    app: app.name, sha: live.sha, "release.swap_back_failed",
                    [("jail", live.name), ("error", "\(error)"), ("fix", "jailpilot rollback \(app.name)")])
                return DeployError.failed(
                    app: app.name, sha: planned.sha, step: "stop-first",
                    reason:
                        "\(abandoned); and \(live.name), stopped for the swap, did not come back: \(error); run jailpilot rollback \(app.name)",
                    log: nil)
            }
            return abandoned
        case .restartLive(let live):
            // Before the data was put back, nothing is undone: the error says what stopped.
            guard state.restored else { return error }
            progress("\(script.target?.name ?? "the release") did not come up; starting \(live.name) again, on the restored data")
            do {
                try await bringBack(app, live, passes: app.healthPasses)
            } catch {
                return DeployError.failed(
                    app: app.name, sha: live.sha, step: "rollback --with-data",
                    reason:
                        "\(error); the data stays restored and \(live.name) did not come back either: jailpilot status \(app.name)",
                    log: host.logPath(live))
            }
            let target = script.target.map { $0.name } ?? "the release"
            return DeployError.failed(
                app: app.name, sha: script.target?.sha ?? live.sha, step: "rollback --with-data",
                reason: "\(error); the data stays restored and \(live.name) serves again (\(target) did not)",
                log: script.target.map { host.logPath($0) })
        }
    }
}
