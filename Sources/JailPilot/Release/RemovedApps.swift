import FoundationEssentials
import Glibc

/// The files of apps removed from agent.conf. While a removed app still has a jail (a live
/// release kept serving, releases `jailpilot remove` has not destroyed) nothing of it goes;
/// once none is left, the grace period starts, and after it the app's mirror, build caches,
/// artifacts and logs are removed. Its data volume and snapshots are never removed here: they
/// are the app's data, outside state_dir, and only an operator drops them.
public struct RemovedApps: Sendable {
    let store: StateStore
    let layout: StateLayout
    let log: EventLog

    public init(store: StateStore, layout: StateLayout, log: EventLog) {
        self.store = store
        self.layout = layout
        self.log = log
    }

    /// Directories that hold per-app files, each with how an app's entry is named in it.
    var perAppDirectories: [(dir: String, suffix: String)] {
        [
            (FileIO.parent(layout.mirror("x")), ".git"), (FileIO.parent(layout.buildCache("x")), ""),
            (FileIO.parent(FileIO.parent(layout.artifactDir("x", String(repeating: "0", count: 40)))), ""),
            (FileIO.parent(layout.logs("x")), ""),
        ]
    }

    /// Where a pruned app's directories are moved before they are deleted (a crash in between
    /// leaves them here, and the next sweep finishes the job).
    var trash: String { "\(layout.root)/trash" }

    /// Apps with files under state_dir, whether or not agent.conf has them.
    public func appsOnDisk() -> Set<String> {
        var apps = Set<String>()
        for (dir, suffix) in perAppDirectories {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where name.hasSuffix(suffix) {
                let app = String(name.dropLast(suffix.count))
                if Names.appNameProblem(app) == nil { apps.insert(app) }
            }
        }
        return apps
    }

    /// Records the apps newly removed, forgets the ones that came back, and moves the files of
    /// those whose grace has passed to the trash (`emptyTrash` deletes them). Returns the apps
    /// pruned. Synchronous, so that an actor calling it decides on the config it holds.
    @discardableResult
    public func sweep(configured: Set<String>, grace: Duration) throws -> [String] {
        let recorded = Dictionary(try store.removedApps().map { ($0.app, $0.since) }, uniquingKeysWith: { first, _ in first })
        for app in recorded.keys where configured.contains(app) { try store.forgetRemoved(app: app) }
        let now = store.clock.date
        var pruned: [String] = []
        for app in appsOnDisk().union(recorded.keys).sorted() where !configured.contains(app) {
            // Still has a jail: not removed yet (its routes may even be kept).
            if try store.releases(app: app).contains(where: { $0.state.hasJail }) {
                try store.forgetRemoved(app: app)
                continue
            }
            guard let since = recorded[app] else {
                try store.markRemoved(app: app)
                log.emit(app: app, "app.removed_files_kept", [("until", Self.stamp(now.addingTimeInterval(grace.seconds)))])
                continue
            }
            // A millisecond's slack: the stored time went through a Double of seconds since 1970.
            guard now.timeIntervalSince(since) + 0.001 >= grace.seconds else { continue }
            let use = AppDiskUse.measure(app, layout: layout)
            try moveToTrash(app)
            try store.forgetRemoved(app: app)
            log.emit(app: app, "app.files_pruned", [("bytes", "\(use.total)"), ("removed_since", Self.stamp(since))])
            pruned.append(app)
        }
        return pruned
    }

    /// Moves `app`'s directories into the trash: quick, and a new app of the same name starts afresh.
    func moveToTrash(_ app: String) throws {
        try FileIO.makeDirectories(trash, mode: 0o700)
        for (index, entry) in perAppDirectories.enumerated() {
            let path = "\(entry.dir)/\(app)\(entry.suffix)"
            guard FileIO.exists(path) else { continue }
            let target = "\(trash)/\(app).\(index).\(UInt32.random(in: 0...UInt32.max))"
            guard rename(path, target) == 0 else { throw FileIOError(operation: "rename", path: path, code: errno) }
        }
    }

    /// Deletes what is in the trash, off the cooperative pool (a Go cache is many files).
    public func emptyTrash() async throws {
        let trash = self.trash
        guard FileIO.exists(trash) else { return }
        try await blocking { try FileIO.removeTree(trash) }
    }

    static func stamp(_ date: Date) -> String { EventLog.timestamp(date) }
}
