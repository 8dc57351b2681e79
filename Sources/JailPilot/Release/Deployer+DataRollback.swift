import FoundationEssentials

/// What `rollback --with-data` would do, shown before anything happens.
public struct DataRollbackPlan: Sendable {
    /// The release that becomes live (it may be the live one: its data is put back).
    public var target: Release
    public var live: Release?
    /// The snapshot restored: the data as `target` left it.
    public var snapshot: DataSnapshot
    /// Recorded snapshots taken after it, destroyed by the restore.
    public var newer: [DataSnapshot]

    /// What will be lost, for a person to confirm.
    public func describe(app: AppConfig) -> String {
        let when = EventLog.timestamp(snapshot.created)
        var lines = [
            "rollback --with-data: \(app.name) goes to \(target.name) with its data as it was at \(when) (snapshot \(snapshot.name)).",
            "This will be lost:",
            "  - everything written to \(app.data ?? "its data") since \(when)",
        ]
        if !newer.isEmpty { lines.append("  - the newer data snapshots: \(newer.map(\.name).joined(separator: ", "))") }
        lines.append(
            "  - service while it happens: every running release of \(app.name) is stopped before the data is put back, and \(target.name) is health-checked before traffic returns"
        )
        return lines.joined(separator: "\n")
    }
}

extension Deployer {
    /// The release `rollback --with-data` goes to (`wanted` SHA prefix, else the previous kept
    /// one; the live one may be named to put its own data back) and the snapshot it restores:
    /// the newest taken while that release was live.
    public func dataRollbackPlan(_ app: AppConfig, to wanted: String? = nil) async throws -> DataRollbackPlan {
        guard app.data != nil else {
            throw DeployError.rollbackRefused(
                app: app.name, what: "roll back the data of",
                reason:
                    "it has no data in agent.conf (data = \"/var/db/\(app.name)\"); a plain rollback needs none: jailpilot rollback \(app.name)"
            )
        }
        if let wanted, let problem = Names.shaProblem(wanted) {
            throw DeployError.rollbackRefused(app: app.name, what: "roll back the data of", reason: "--to '\(wanted)' \(problem)")
        }
        let releases = try store.releases(app: app.name)
        let live = releases.first { $0.state == .live }
        let kept = releases.filter { [.standby, .retired].contains($0.state) }
        let target =
            wanted.map { w in (kept + (live.map { [$0] } ?? [])).first { $0.sha.hasPrefix(w.lowercased()) } }
            ?? kept.max { $0.updated < $1.updated }
        guard let target else {
            throw DeployError.noRelease(
                app: app.name, wanted: wanted, kept: kept.map { "\($0.sha.prefix(12)) (\($0.state.rawValue))" })
        }
        let snapshots = try store.snapshots(app: app.name)
        var chosen: DataSnapshot?
        for snapshot in snapshots.reversed() where snapshot.holdsID == target.id && SnapshotName.isValid(snapshot.name) {
            if await host.hasSnapshot(app: app.name, name: snapshot.name) {
                chosen = snapshot
                break
            }
        }
        guard let chosen else {
            throw DeployError.rollbackRefused(
                app: app.name, what: "roll back the data of",
                reason:
                    "no data snapshot holds \(target.name)'s data (one is taken when a release replaces it); a plain rollback leaves the data as it is: jailpilot rollback \(app.name) --to \(target.sha.prefix(12))"
            )
        }
        return DataRollbackPlan(target: target, live: live, snapshot: chosen, newer: snapshots.filter { $0.id > chosen.id })
    }

    /// Stops every running release of `app`, puts the data back to `plan.snapshot`, then starts
    /// `plan.target`, health-checks it and flips to it (holding the app there). If the target
    /// does not come up, the release that was live is started again, on the restored data.
    public func rollbackWithData(_ app: AppConfig, plan: DataRollbackPlan) async throws -> DeployOutcome {
        let lock = try await AppLock.acquire(stateDir: runtime.config.agent.stateDir, app: app.name)
        defer { withExtendedLifetime(lock) {} }
        let releases = try store.releases(app: app.name)
        guard let target = releases.first(where: { $0.id == plan.target.id }), target.state.hasJail,
            releases.first(where: { $0.state == .live })?.id == plan.live?.id
        else {
            throw DeployError.noRelease(
                app: app.name, wanted: String(plan.target.sha.prefix(12)), kept: ["it changed meanwhile; run the rollback again"])
        }
        progress("stopping every running release of \(app.name): its data volume is about to be put back")
        let script = try dataRollbackScript(app, plan: plan)
        guard let live = plan.live, live.id != target.id else {
            _ = try await run(script, live: plan.live)
            return DeployOutcome(release: try store.release(id: target.id) ?? target, previous: nil, phases: [], unchanged: false)
        }
        return try await finish(script, live: live, phases: [])
    }
}
