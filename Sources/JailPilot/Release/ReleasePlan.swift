import FoundationEssentials

/// The whole host sequence of a deploy, rollback, retire or destroy: the driver's commands and
/// files, the network policy load, the deployer's gates (routes, health, probation, drain), the
/// route table flip and retention. `jailpilot plan` prints it; the deployer runs the same phases,
/// built by the same functions (tests compare the steps it recorded with this list).
public struct ReleasePlan: Sendable {
    /// What `jailpilot plan --action` can show.
    public enum Action: String, Sendable, CaseIterable {
        case deploy, rollback, retire, destroy
    }

    public var host: any JailHost
    public var app: AppConfig
    public var stateDir: String
    /// The route table as it is now (the flip writes it with the new address).
    public var routes: RouteTable
    /// What the jails may reach once the release holds its address.
    public var policy: JailNetworkPolicy
    /// What the retire after the flip removes (releases past `keep`, snapshots, files).
    public var retention: [HostStep]
    /// The data snapshot's time (its name holds it).
    public var now: Date

    public init(
        host: any JailHost, app: AppConfig, stateDir: String, routes: RouteTable, policy: JailNetworkPolicy,
        retention: [HostStep] = [], at now: Date = Date()
    ) {
        self.host = host
        self.app = app
        self.stateDir = stateDir
        self.routes = routes
        self.policy = policy
        self.retention = retention
        self.now = now
    }

    /// The steps of `action` for `spec` on the host as it is now; `replacing` is the live release.
    public func steps(_ action: Action, spec: JailSpec, replacing: JailSpec?) async -> [HostStep] {
        switch action {
        case .deploy:
            return (Self.verifyNote(app).map { [$0] } ?? []) + [Self.routesNote] + (await host.steps(.provision, spec))
                + (await data(spec)) + (await start(spec))
                + releaseStep(spec) + [Self.healthNote(app, spec)] + flip(spec, replacing: replacing)
                + (await retireOld(spec, replacing: replacing)) + retention
        case .rollback:
            return [Self.routesNote] + (replacing == nil ? [] : await data(spec)) + (await start(spec))
                + [Self.healthNote(app, spec, passes: Self.keptPasses)] + flip(spec, replacing: replacing)
        case .retire:
            return [Self.drainNote(app, spec)] + (await host.steps(.stop, spec))
        case .destroy:
            return await host.steps(.destroy, spec)
        }
    }

    /// `rollback --with-data`: every running release stopped, the volume put back to `snapshot`
    /// (the newer ones destroyed), then the target started, health-checked and flipped to.
    public func dataRollbackSteps(plan: DataRollbackPlan, running: [JailSpec], target: JailSpec, replacing: JailSpec?) async
        -> [HostStep]
    {
        var stripped = self
        stripped.app.data = nil
        var steps: [HostStep] = []
        for spec in running { steps += await host.steps(.stop, spec) }
        return steps + host.restorePlan(app: app.name, name: plan.snapshot.name, newer: plan.newer.map(\.name))
            + (await stripped.steps(.rollback, spec: target, replacing: replacing))
    }

    /// The network policy with the release's address in it, then the jail started.
    func start(_ spec: JailSpec) async -> [HostStep] {
        (await host.networkPolicySteps(policy)) + (await host.steps(.start, spec))
    }

    /// The volume made if missing (as the host is now), then the snapshot before the new code.
    func data(_ spec: JailSpec) async -> [HostStep] {
        guard app.data != nil else { return [] }
        return [Self.dataNote(app)] + (await host.dataSteps(app: app.name)) + [Self.snapshotNote]
            + host.snapshotPlan(app: app.name, name: SnapshotName.make(sha: spec.sha, at: now))
    }

    func releaseStep(_ spec: JailSpec) -> [HostStep] {
        app.release.isEmpty ? [] : [Self.releaseStepNote(app)] + host.releaseStepPlan(spec, argv: app.release)
    }

    static func dataNote(_ app: AppConfig) -> HostStep {
        .note("data: \(app.name)'s volume, made if missing (owned by the app's user):")
    }

    static let snapshotNote = HostStep.note(
        "data: snapshot before the new code touches it (kept while a release it belongs to is kept):")

    static func releaseStepNote(_ app: AppConfig) -> HostStep {
        .note(
            "release step (time-out \(DurationText.format(app.releaseTimeout)); output to the release's log; failure abandons the release):"
        )
    }

    /// The boot set, then the route table Caddy's resolver reads, with the new address.
    func flip(_ spec: JailSpec, replacing: JailSpec?) -> [HostStep] {
        var table = routes
        table.addresses[app.name] = spec.address
        return host.promotePlan(spec, replacing: replacing) + [Self.routeWrite(stateDir: stateDir, table)]
    }

    func retireOld(_ spec: JailSpec, replacing: JailSpec?) async -> [HostStep] {
        guard let old = replacing else { return [] }
        return [Self.probationNote(app, spec), Self.drainNote(app, old)] + (await host.steps(.stop, old))
    }

    /// The commit gate, when the app verifies signatures (it runs after the fetch, before the build).
    static func verifyNote(_ app: AppConfig) -> HostStep? {
        let policy = app.verification
        guard policy.method != .none, let keys = policy.keys else { return nil }
        let tool = policy.method == .ssh ? "ssh-keygen -Y verify -n git" : "gpgv"
        let scope = policy.scope == .strict ? "every commit since the live release" : "the commit"
        return .note("verify: \(scope) signed by a key in \(keys) (\(tool)), checked before the build")
    }

    /// Caddy's routes for every served app, before anything else changes (a Caddy that is down
    /// stops the deploy here).
    static let routesNote = HostStep.note(
        "routes: Caddy routes every served app's hostnames through jailpilot's resolver (admin API; changed only if they differ)")

    /// Passes a kept release needs on its way back: it passed the whole gate when it was deployed.
    public static let keptPasses = 1

    static func healthNote(_ app: AppConfig, _ spec: JailSpec, passes: Int? = nil) -> HostStep {
        let passes = passes ?? app.healthPasses
        let times =
            passes == 1 ? "once (a kept release: it passed \(app.healthPasses) when deployed)" : "\(passes) times in a row"
        return .note(
            "health: GET http://\(spec.address):\(spec.port)\(app.health) until it answers 200 \(times) (deadline \(DurationText.format(app.healthDeadline)))"
        )
    }

    static func probationNote(_ app: AppConfig, _ spec: JailSpec) -> HostStep {
        .note("probation: \(DurationText.format(app.probation)) watching \(spec.name); the replaced release keeps running")
    }

    static func drainNote(_ app: AppConfig, _ spec: JailSpec) -> HostStep {
        .note("drain: \(spec.name) stops once its open connections close (at most \(DurationText.format(app.drainTimeout)))")
    }

    /// The route table file as the flip writes it.
    static func routeWrite(stateDir: String, _ table: RouteTable) -> HostStep {
        .write(path: RouteTable.path(stateDir: stateDir), content: table.text, mode: 0o644)
    }

    /// One step per line (files as here-documents), for people and golden files.
    public static func render(_ steps: [HostStep]) -> String {
        steps.map(\.description).joined(separator: "\n") + "\n"
    }
}
