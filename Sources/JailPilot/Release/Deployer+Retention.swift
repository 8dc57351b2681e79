import FoundationEssentials
import Glibc

/// What state_dir keeps of an app, and for how long: the newest `keep` stopped releases; an
/// artifact as long as a release that can run again (or is being made) needs it, or its commit
/// is the branch head, the pin or the hold; build logs and the logs kept from failed releases as
/// long as their release, plus the newest `Retention.keptLogs` of the rest (a quarantine's
/// reason names its log); a data snapshot while a release it belongs to is kept; the events
/// table capped at `Retention.events` rows. Run at the end of every retire, under the app's lock.
///
/// One sequence for both interpreters: `retentionPlan` says what goes, `steps(of:)` the host
/// steps that remove it (what `plan` prints), and `retain` runs exactly those.
extension Deployer {
    /// What goes when `releases` (the app's, in their states after the retire) are what the store holds.
    func retentionPlan(_ app: AppConfig, releases: [Release], snapshots: [DataSnapshot]) throws -> RetentionPlan {
        var plan = RetentionPlan()
        // Newest first; at the same instant (a clock that did not move) the later release.
        let retired = releases.filter { $0.state == .retired }.sorted { ($0.updated, $0.id) > ($1.updated, $1.id) }
        plan.destroy = Array(retired.dropFirst(app.keep))
        let gone = Set(plan.destroy.map(\.id))
        let kept = releases.filter { $0.state.hasJail && !gone.contains($0.id) }
        let keptIDs = Set(kept.map(\.id))
        plan.snapshots = snapshots.filter { !keptIDs.contains($0.releaseID) && !($0.holdsID.map(keptIDs.contains) ?? false) }
        let living = releases.filter { ![.destroyed, .failed].contains($0.state) && !gone.contains($0.id) }
        var needed = Set(living.map(\.sha))
        for sha in [try store.head(app: app.name)?.sha, app.pin, try store.holdSHA(app: app.name)] {
            if let sha { needed.insert(sha) }
        }
        let layout = runtime.layout
        let artifacts = FileIO.parent(layout.artifactDir(app.name, String(repeating: "0", count: 40)))
        for name in Self.names(in: artifacts) where Names.isFullSHA(name) && !needed.contains(where: { name.hasPrefix($0) }) {
            plan.files.append("\(artifacts)/\(name)")
        }
        let neededNames = Set(living.map(\.name))
        let logs = layout.logs(app.name)
        let prunable = Self.names(in: logs).filter { name in
            guard name.hasSuffix(".log") else { return false }
            let stem = String(name.dropLast(4))
            if stem.hasPrefix("build-") {
                // sha12 in the name; a pin may be shorter than that.
                let short = stem.dropFirst("build-".count)
                return !needed.contains { $0.hasPrefix(short) || short.hasPrefix($0) }
            }
            return !neededNames.contains(stem)
        }
        plan.files += Retention.oldest(prunable.map { "\(logs)/\($0)" }, keeping: Retention.keptLogs)
        return plan
    }

    /// The host steps of `plan`, as the host is now: each release's destroy, each snapshot's, each file's removal.
    func steps(of plan: RetentionPlan, app: AppConfig) async -> [HostStep] {
        var steps: [HostStep] = []
        for release in plan.destroy { steps += await host.steps(.destroy, spec(release, app: app)) }
        for snapshot in plan.snapshots where SnapshotName.isValid(snapshot.name) {
            steps += await host.destroySnapshotSteps(app: app.name, name: snapshot.name)
        }
        return steps + plan.files.map { .remove(path: $0) }
    }

    /// Runs `plan`, recording each removal in the store as it is done.
    func retain(_ plan: RetentionPlan, app: AppConfig) async throws {
        for release in plan.destroy {
            await crash.reach("destroy")
            try await host.destroy(spec(release, app: app))
            try store.update(release, state: .destroyed)
            log.emit(app: app.name, sha: release.sha, "release.destroyed")
        }
        if !plan.snapshots.isEmpty {
            for snapshot in plan.snapshots {
                // A name the store holds reaches zfs and a path: one not of our own form is only forgotten.
                if SnapshotName.isValid(snapshot.name) { try await host.destroySnapshot(app: app.name, name: snapshot.name) }
                log.emit(app: app.name, "data.snapshot_destroyed", [("snapshot", snapshot.name)])
            }
            try store.forgetSnapshots(plan.snapshots.map(\.id))
        }
        do {
            try await PlanExecutor(runner: runtime.runner, recorder: recorder).execute(plan.files.map { .remove(path: $0) })
            let events = try store.capEvents(keeping: Retention.events)
            if !plan.files.isEmpty || events > 0 {
                log.emit(app: app.name, "state.pruned", [("files", "\(plan.files.count)"), ("events", "\(events)")])
            }
        } catch {
            log.emitOnce(
                key: "state.prune_failed \(app.name)",
                Event(app: app.name, name: "state.prune_failed", fields: [("error", "\(error)")]))
        }
    }

    static func names(in directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }
}

/// What one retire removes: releases past `keep`, snapshots no kept release needs, files.
struct RetentionPlan: Sendable {
    var destroy: [Release] = []
    var snapshots: [DataSnapshot] = []
    var files: [String] = []
}

/// How much of what no release needs state_dir keeps.
public enum Retention {
    /// Build logs and failed releases' logs kept per app beyond those of kept releases.
    public static let keptLogs = 10
    /// Rows the events table keeps (the newest); `history` and `status` read the latest only.
    public static let events = 100_000
    /// How long the mirror, caches, artifacts and logs of an app removed from agent.conf (with
    /// no jail left) stay, so that putting it back soon rebuilds warm.
    public static let removedAppGrace: Duration = .seconds(7 * 86_400)

    /// The paths beyond the newest `keeping` (by modification time), oldest first.
    static func oldest(_ paths: [String], keeping: Int) -> [String] {
        func mtime(_ path: String) -> Int {
            var info = stat()
            return stat(path, &info) == 0 ? Int(info.st_mtim.tv_sec) : 0
        }
        let sorted = paths.map { ($0, mtime($0)) }.sorted { ($0.1, $0.0) > ($1.1, $1.0) }
        return sorted.dropFirst(keeping).map(\.0)
    }
}
