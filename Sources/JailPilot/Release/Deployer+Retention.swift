import FoundationEssentials
import Glibc

/// What state_dir keeps of an app, and for how long: an artifact as long as a release that can
/// run again (or is being made) needs it, or its commit is the branch head, the pin or the hold;
/// build logs and the logs kept from failed releases as long as their release, plus the newest
/// `Retention.keptLogs` of the rest (a quarantine's reason names its log); the events table
/// capped at `Retention.events` rows. Run after every retire, under the app's lock.
extension Deployer {
    func pruneState(_ app: AppConfig) throws {
        let releases = try store.releases(app: app.name)
        var needed = Set(releases.filter { ![.destroyed, .failed].contains($0.state) }.map(\.sha))
        for sha in [try store.head(app: app.name)?.sha, app.pin, try store.holdSHA(app: app.name)] {
            if let sha { needed.insert(sha) }
        }
        let layout = runtime.layout
        let artifacts = FileIO.parent(layout.artifactDir(app.name, String(repeating: "0", count: 40)))
        var removed = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: artifacts)) ?? []
        where Names.isFullSHA(name) && !needed.contains(where: { name.hasPrefix($0) }) {
            try FileIO.removeTree("\(artifacts)/\(name)")
            removed += 1
        }
        let neededNames = Set(releases.filter { ![.destroyed, .failed].contains($0.state) }.map(\.name))
        let logs = layout.logs(app.name)
        let prunable = ((try? FileManager.default.contentsOfDirectory(atPath: logs)) ?? []).filter { name in
            guard name.hasSuffix(".log") else { return false }
            let stem = String(name.dropLast(4))
            if stem.hasPrefix("build-") {
                // sha12 in the name; a pin may be shorter than that.
                let short = stem.dropFirst("build-".count)
                return !needed.contains { $0.hasPrefix(short) || short.hasPrefix($0) }
            }
            return !neededNames.contains(stem)
        }
        for name in Retention.oldest(prunable.map { "\(logs)/\($0)" }, keeping: Retention.keptLogs) {
            try FileIO.removeTree(name)
            removed += 1
        }
        let events = try store.capEvents(keeping: Retention.events)
        if removed > 0 || events > 0 {
            log.emit(app: app.name, "state.pruned", [("files", "\(removed)"), ("events", "\(events)")])
        }
    }
}

/// How much of what no release needs state_dir keeps.
public enum Retention {
    /// Build logs and failed releases' logs kept per app beyond those of kept releases.
    public static let keptLogs = 10
    /// Rows the events table keeps (the newest); `history` and `status` read the latest only.
    public static let events = 100_000

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
