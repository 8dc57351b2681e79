import FoundationEssentials

/// The whole host plan of a deploy, rollback, retire or destroy, for `jailpilot plan`: the
/// driver's commands and files plus the deployer's own steps (health gate, route table).
public enum ReleasePlan {
    /// What `jailpilot plan --action` can show.
    public enum Action: String, Sendable, CaseIterable {
        case deploy, rollback, retire, destroy
    }

    /// The steps of `action` for `spec`; `replacing` is the release that is live now.
    public static func steps(
        _ action: Action, host: any JailHost, spec: JailSpec, replacing: JailSpec?, app: AppConfig, stateDir: String,
        routes: RouteTable, at now: Date = Date()
    ) -> [HostStep] {
        let health = HostStep.note(
            "health: GET http://\(spec.address):\(spec.port)\(app.health) until it answers 200 \(app.healthPasses) times in a row (deadline \(DurationText.format(app.healthDeadline)))"
        )
        var table = routes
        table.addresses[app.name] = spec.address
        let flip = HostStep.write(
            path: RouteTable.path(stateDir: stateDir),
            content: table.addresses.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)\n" }.joined(), mode: 0o644)
        let retireOld: [HostStep] =
            replacing.map { old in
                [.note("probation: \(DurationText.format(app.probation)) watching \(spec.name); then retire \(old.name):")]
                    + host.plan(.stop, old)
            } ?? []
        let snapshot: [HostStep] =
            app.data == nil
            ? []
            : [.note("data: \(app.name)'s volume, made if missing (owned by the app's user):")] + host.dataPlan(app: app.name)
                + [.note("data: snapshot before the new code touches it (kept while a release it belongs to is kept):")]
                + host.snapshotPlan(app: app.name, name: SnapshotName.make(sha: spec.sha, at: now))
        let step: [HostStep] =
            app.release.isEmpty
            ? []
            : [
                .note(
                    "release step (time-out \(DurationText.format(app.releaseTimeout)); output to the release's log; failure abandons the release):"
                )
            ] + host.releaseStepPlan(spec, argv: app.release)
        switch action {
        case .deploy:
            return host.plan(.provision, spec) + snapshot + host.plan(.start, spec) + step + [health]
                + host.promotePlan(spec, replacing: replacing) + [flip] + retireOld
        case .rollback:
            return (replacing == nil ? [] : snapshot) + host.plan(.start, spec) + [health]
                + host.promotePlan(spec, replacing: replacing) + [flip]
        case .retire:
            return host.plan(.stop, spec)
        case .destroy:
            return host.plan(.destroy, spec)
        }
    }

    /// `rollback --with-data`: every running release stopped, the volume put back to `snapshot`
    /// (the newer ones destroyed), then the target started, health-checked and flipped to.
    public static func dataRollbackSteps(
        host: any JailHost, plan: DataRollbackPlan, app: AppConfig, running: [JailSpec], target: JailSpec,
        replacing: JailSpec?, stateDir: String, routes: RouteTable
    ) -> [HostStep] {
        var stripped = app
        stripped.data = nil
        return running.flatMap { host.plan(.stop, $0) }
            + host.restorePlan(app: app.name, name: plan.snapshot.name, newer: plan.newer.map(\.name))
            + steps(.rollback, host: host, spec: target, replacing: replacing, app: stripped, stateDir: stateDir, routes: routes)
    }

    /// One step per line (files as here-documents), for people and golden files.
    public static func render(_ steps: [HostStep]) -> String {
        steps.map(\.description).joined(separator: "\n") + "\n"
    }
}
