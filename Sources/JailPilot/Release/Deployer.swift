import FoundationEssentials

/// What a deploy, rollback or resume ended with.
public struct DeployOutcome: Sendable {
    public var release: Release
    public var previous: Release?
    /// Phase durations in order (build, provision, start, release step, health, flip, probation, retire).
    public var phases: [(String, Duration)]
    /// True when nothing had to change (the wanted release was already live).
    public var unchanged: Bool
}

/// The release state machine: build → provision → (data snapshot) → start → (release step) →
/// health → flip → probation → retire.
///
/// Every transition is recorded in the state store before the next step runs. A failure before
/// the flip destroys the new jail (its log is kept) and leaves what is live untouched.
public struct Deployer: Sendable {
    public let runtime: Runtime
    public let host: any JailHost
    public let router: any Router
    /// Progress lines for a person watching (`jailpilot deploy` prints them).
    public let progress: @Sendable (String) -> Void
    /// Shared build limit (the agent's); nil builds at once.
    public let buildSlots: BuildSlots?
    /// Where the deployer's own steps (gates, the route table) are noted beside the driver's
    /// (tests set the same recorder on both); nil in production.
    public var recorder: StepRecorder?
    /// Fetch and build (git and go; a fake in the state-machine tests).
    public var source: any SourceBuilding
    /// Health requests to releases (HTTP; a fake in the state-machine tests).
    public var health: any HealthChecking
    /// What phases are timed with and waits wait on.
    public var clock: any ReleaseClock
    /// Who asks, for the timeline: `agent`, `webhook`, `trigger` or `cli:<user>`.
    public var actor = "agent"

    public init(
        runtime: Runtime, host: any JailHost, router: any Router, buildSlots: BuildSlots? = nil,
        source: (any SourceBuilding)? = nil, health: any HealthChecking = HTTPHealthCheck(),
        clock: (any ReleaseClock)? = nil, progress: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.runtime = runtime
        self.host = host
        self.router = router
        self.buildSlots = buildSlots
        self.source = source ?? SourcePipeline(runtime: runtime)
        self.health = health
        self.clock = clock ?? runtime.clock
        self.progress = progress
    }

    /// The health probe of `app`, on this deployer's seams.
    func probe(_ app: AppConfig) -> HealthProbe { HealthProbe(app: app, checker: health, clock: clock) }

    var store: StateStore { runtime.store }
    var log: EventLog { runtime.log }

    /// Whether a deploy of `app` asked for `sha` (nil: the pin or branch head) deploys the branch
    /// head the agent follows: checked against rewinds and its ring, and raising the commit mark.
    public static func followsBranch(_ app: AppConfig, sha: String?, cause: String) -> Bool {
        cause == "push" || (sha == nil && app.pin == nil)
    }

    /// Builds and deploys `app` at `sha` (else its pin, else the branch head). `cause` is why
    /// (push, pin, hold, manual); the same commit with other variables or arguments is "config changed".
    public func deploy(_ app: AppConfig, sha: String? = nil, cause: String = "manual") async throws -> DeployOutcome {
        let lock = try await AppLock.acquire(stateDir: runtime.config.agent.stateDir, app: app.name)
        defer { withExtendedLifetime(lock) {} }
        var phases: [(String, Duration)] = []
        let clock = self.clock
        var mark = clock.now
        func phase(_ name: String) {
            let now = clock.now
            phases.append((name, now - mark))
            progress("\(name) done in \(Logfmt.seconds(now - mark))")
            mark = now
        }

        // The environment first: a secrets file that cannot be used stops the deploy before the build.
        let env = try AppEnvironment.resolve(app, layout: runtime.layout)
        progress("fetching \(app.name)")
        let source = self.source
        let commit = try await source.fetch(app, sha: sha)
        let live = try store.live(app: app.name)
        // Before anything of the commit runs: its signatures, and that the branch did not go back
        // (or skip its ring). The branch head is checked whoever asks for it (the agent, `deploy`
        // without --sha, `resume`); a pin or --sha names its commit on purpose.
        let fromBranch = Self.followsBranch(app, sha: sha, cause: cause)
        try await checkCommit(app, commit, live: live, fromBranch: fromBranch, cause: cause)
        let newMark = try await releaseMark(app, commit: commit, raises: fromBranch)
        progress("building \(app.name) at \(commit.prefix(12))")
        let built: (sha: String, build: BuildOutcome)
        do {
            if let buildSlots {
                built = (commit, try await buildSlots.withSlot { try await source.build(app, commit: commit) })
            } else {
                built = (commit, try await source.build(app, commit: commit))
            }
        } catch {
            // A build the agent cancelled (SIGTERM) says nothing about the commit: not quarantined.
            if let buildError = error as? BuildError, case .failed(_, let failedSHA, _, _, _) = buildError, !Task.isCancelled {
                note(
                    app.name, from: live?.sha, to: failedSHA, cause: cause, outcome: "failed",
                    detail: "build: \(buildError.reason)")
                quarantine(app, sha: failedSHA, reason: buildError.reason)
            }
            throw error
        }
        phase("build")
        if let live, live.sha == built.sha, live.env == env.digest {
            progress("\(app.name) at \(built.sha.prefix(12)) is already live")
            return DeployOutcome(release: live, previous: nil, phases: phases, unchanged: true)
        }
        if var kept = try store.releases(app: app.name).first(where: {
            $0.sha == built.sha && $0.env == env.digest && [.standby, .retired].contains($0.state)
        }) {
            // A branch head raises the mark whoever deploys it (followsBranch), kept or new.
            if fromBranch, let newMark { kept = try store.assignMark(kept, generation: newMark.generation) }
            progress("\(kept.name) is kept: activating it instead of building a new jail")
            return try await activate(kept, app: app, replacing: live, phases: phases, cause: cause)
        }
        let why = live?.sha == built.sha ? "config changed" : cause
        var spec = JailSpec(
            app: app, sha: built.sha,
            address: try AddressPool(config: runtime.config, store: store).allocate(excluding: await host.addressesInUse()),
            artifact: built.build.artifact, env: env)
        spec.mark = newMark
        var script = try deployScript(app, spec: spec, live: live, cause: why, at: clock.date)
        script.mark = fromBranch ? newMark?.generation ?? 0 : 0
        return try await finish(script, live: live, phases: phases)
    }

    /// Runs a deploy or activation script and records the release it made live: its phases,
    /// the timeline, `release.live`; whatever held its commit back before is over.
    func finish(_ script: ReleaseScript, live: Release?, phases: [(String, Duration)]) async throws -> DeployOutcome {
        let run = try await run(script, live: live, phases: phases)
        guard let made = run.live else {
            throw DeployError.failed(
                app: script.app.name, sha: script.target?.sha ?? "-", step: "flip", reason: "the script made nothing live",
                log: nil)
        }
        let final = try store.update(made, state: .live, phases: run.phases.map { ($0.0, $0.1.seconds) })
        if script.kind == .deploy {
            do { try store.unquarantine(app: final.app, sha: final.sha) } catch {
                log.emitOnce(
                    key: "store.write_failed unquarantine \(final.app)",
                    Event(
                        app: final.app, sha: final.sha, name: "store.write_failed",
                        fields: [("what", "unquarantine"), ("error", "\(error)")]))
            }
        }
        note(final.app, from: live?.sha, to: final.sha, cause: script.cause, outcome: "live", phases: run.phases)
        log.emit(
            app: final.app, sha: final.sha, "release.live", took: run.phases.reduce(.zero) { $0 + $1.1 },
            run.phases.map { ($0.0, Logfmt.seconds($0.1)) })
        return DeployOutcome(release: final, previous: live, phases: run.phases, unchanged: false)
    }

    func nextStep(_ state: ReleaseState) -> String {
        switch state {
        case .built: return "provision"
        case .provisioned: return "start"
        default: return "health"
        }
    }

    /// Applies Caddy's routes, failing before anything live is touched when Caddy is down.
    func ensureRoutes(overriding: [String: Int] = [:]) async throws {
        recorder?.record(ReleasePlan.routesNote)
        let apps = runtime.routed(runtime.served.all, overriding: overriding)
        try router.writeCaddyfile(for: apps)
        if try await router.applyRoutes(for: apps) {
            log.emit(app: "-", "routes.applied", [("apps", apps.map(\.name).joined(separator: ","))])
        }
    }

    /// Waits for `health_passes` consecutive 200s (`passes` for a kept release, which passed
    /// them once already), failing fast if the service exits.
    func healthGate(_ app: AppConfig, _ spec: JailSpec, passes: Int? = nil) async throws {
        recorder?.record(ReleasePlan.healthNote(app, spec, passes: passes))
        let host = self.host
        let report = await probe(app).waitHealthy(
            address: spec.address, port: spec.port, deadline: app.healthDeadline, passes: passes,
            stillRunning: { await host.exitReport(spec) == nil })
        guard report.healthy else {
            let exited = await host.exitReport(spec)
            throw HealthGateError(
                reason: exited.map { "the app exited: \($0)" }
                    ?? "not healthy within \(DurationText.format(app.healthDeadline)) (\(report.attempts) tries; last: \(report.lastProblem ?? "none"))"
            )
        }
    }

    /// Destroys a release that did not make it, keeping its log, and records why. Its commit is
    /// quarantined only when the app failed its health gate; a deploy the agent cancelled
    /// (shutdown) is recorded as interrupted.
    func abandon(_ release: Release, spec: JailSpec, app: AppConfig, step: String, error: Error) async -> DeployError {
        let cancelled = Task.isCancelled
        let step = cancelled ? "interrupted" : step
        let reason = cancelled ? "the agent stopped during \(release.state.rawValue)" : "\(error)"
        let kept = keepLog(spec, app: app)
        // Cleanup must finish even when the deploy was cancelled (agent shutdown).
        let host = self.host
        await Task.detached { try? await host.destroy(spec) }.value
        _ = try? store.update(release, state: .failed, step: step, reason: reason)
        // Only what the commit did is held against it: an app that never got healthy or exited.
        // A host that could not clone, write or start the jail (disk full, a template gone, jail(8)
        // refusing its config) says nothing about the commit, which is tried again after backoff.
        let commitsFault = !cancelled && (error is HealthGateError || error is ReleaseStepError)
        note(
            app.name, from: (try? store.live(app: app.name))??.sha, to: release.sha, cause: release.cause,
            outcome: cancelled ? "interrupted" : "failed", detail: "\(step): \(reason)")
        if commitsFault { quarantine(app, sha: release.sha, reason: "\(step): \(reason)", env: release.env) }
        log.emit(
            app: app.name, sha: release.sha, "release.failed",
            [("step", step), ("reason", reason)] + (commitsFault || cancelled ? [] : [("quarantined", "no: a host problem")]))
        return .failed(app: app.name, sha: release.sha, step: step, reason: reason, log: kept)
    }

    /// Copies the jail's app log to `state_dir/logs/<app>/<name>.log` before the jail goes.
    func keepLog(_ spec: JailSpec, app: AppConfig) -> String? {
        let source = host.logPath(spec)
        guard let data = FileManager.default.contents(atPath: source) else { return nil }
        let target = "\(runtime.layout.logs(app.name))/\(spec.name).log"
        try? FileIO.makeDirectories(runtime.layout.logs(app.name))
        try? FileIO.replace(target, text: String(decoding: data, as: UTF8.self))
        return target
    }
}

/// A release did not pass its health gate.
struct HealthGateError: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}
