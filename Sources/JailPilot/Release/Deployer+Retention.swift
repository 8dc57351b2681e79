import FoundationEssentials
import Glibc

/// What state_dir keeps of an app, and for how long: the newest `keep` stopped releases; an
/// artifact as long as a release that can run again (or is being made) needs it, or its commit
/// is the branch head, the pin or the hold; build logs and the logs kept from failed releases as
/// long as their release, plus the newest `Retention.keptLogs` of the rest (a quarantine's
/// reason names its log); a data snapshot while a release it belongs to is kept; the events
/// table capped at `Retention.events` rows. Run at the end of every retire, under the app's lock.
///
/// `retentionPlan` says what goes; `retentionSteps` (Deployer+Scripts) makes it the steps of
/// the retire script that `plan` prints and the deployer runs.
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
