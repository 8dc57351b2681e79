import FoundationEssentials

/// How a release script reads on this host: each step as the driver's commands and files, the
/// network policy load, the deployer's gates (routes, health, probation, drain), the store's
/// moves, the route table flip. `jailpilot plan` prints it; the deployer notes the same lines
/// as it runs each step (tests compare the two).
public struct ReleasePlan: Sendable {
    /// What `jailpilot plan --action` can show.
    public enum Action: String, Sendable, CaseIterable {
        case deploy, rollback, retire, destroy, remove
    }

    public var host: any JailHost
    public var app: AppConfig
    public var stateDir: String
    /// The route table as it is now (the flip writes it with the new address).
    public var routes: RouteTable
    /// What the jails may reach once the release holds its address.
    public var policy: JailNetworkPolicy
    /// The data snapshot's time (its name holds it).
    public var now: Date

    public init(
        host: any JailHost, app: AppConfig, stateDir: String, routes: RouteTable, policy: JailNetworkPolicy,
        at now: Date = Date()
    ) {
        self.host = host
        self.app = app
        self.stateDir = stateDir
        self.routes = routes
        self.policy = policy
        self.now = now
    }

    /// Every step of `script`, in order, as the host will see it.
    public func render(_ script: ReleaseScript) async -> [HostStep] {
        var lines: [HostStep] = script.kind == .deploy ? (Self.verifyNote(app).map { [$0] } ?? []) : []
        if case .unchanged = script.kind, let spec = script.unchangedLive {
            lines.append(.note("\(spec.name) is live already: nothing to do"))
        }
        var routes = self.routes
        for step in script.steps { lines += await render(step, routes: &routes) }
        return lines
    }

    /// One step as the host will see it; a flip updates `routes` as it writes them.
    func render(_ step: ScriptStep, routes: inout RouteTable) async -> [HostStep] {
        switch step {
        case .routes: return [Self.routesNote]
        case .create(let spec): return [Self.createNote(spec)]
        case .provision(let spec): return await host.steps(.provision, spec)
        case .data(let spec): return await data(spec)
        case .start(let spec): return await start(spec)
        case .releaseStep(let spec): return releaseStep(spec)
        case .health(let spec, let passes): return [Self.healthNote(app, spec, passes: passes)]
        case .move(let spec, let state): return [Self.moveNote(spec, state)]
        case .flip(let to, let from, _):
            routes.addresses[app.name] = to.address
            let port = from.map { $0.port != to.port } == true ? [Self.routesNote] : []
            return host.promotePlan(to, replacing: from) + port + [
                Self.flipNote(to, from: from), Self.routeWrite(stateDir: stateDir, routes),
            ]
        case .probation(let spec, _): return [Self.probationNote(app, spec)]
        case .retire(let spec): return [Self.drainNote(app, spec)] + (await host.steps(.stop, spec))
        case .stop(let spec): return await host.steps(.stop, spec)
        case .destroy(let spec): return await host.steps(.destroy, spec)
        case .destroySnapshot(let app, let name):
            // A name of another form is only forgotten: it never reaches zfs or a path.
            return SnapshotName.isValid(name) ? await host.destroySnapshotSteps(app: app, name: name) : []
        case .remove(let path): return [.remove(path: path)]
        case .restore(let app, let snapshot, let newer): return host.restorePlan(app: app, name: snapshot, newer: newer)
        case .hold(let spec): return [Self.holdNote(spec)]
        case .swapOut(let spec):
            routes.addresses[app.name] = nil
            return [Self.swapOutNote(app, spec), Self.routeWrite(stateDir: stateDir, routes)] + (await host.steps(.stop, spec))
        }
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

    static func createNote(_ spec: JailSpec) -> HostStep {
        .note(
            "store: \(spec.name) recorded as built, address \(spec.address) (the next free one if another deploy takes it first)")
    }

    static func moveNote(_ spec: JailSpec, _ state: ReleaseState) -> HostStep {
        .note("store: \(spec.name) → \(state.rawValue)")
    }

    static func flipNote(_ to: JailSpec, from: JailSpec?) -> HostStep {
        .note("store: \(to.name) → live" + (from.map { ", \($0.name) → standby (one transaction)" } ?? ""))
    }

    static func swapOutNote(_ app: AppConfig, _ spec: JailSpec) -> HostStep {
        .note(
            "stop-first: \(spec.name) out of the route (store: swapped out), then stopped; requests wait in Caddy (up to \(DurationText.format(CaddyRouter.swapWait(app)))) until the flip, and a failure before it starts \(spec.name) again"
        )
    }

    static func holdNote(_ spec: JailSpec) -> HostStep {
        .note("store: \(spec.app) held at \(spec.sha.prefix(12)) until `jailpilot resume \(spec.app)`")
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
