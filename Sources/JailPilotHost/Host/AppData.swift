import FoundationEssentials
import Glibc
import JailPilotCore

/// An app's persistent data on the host: one volume per app (a ZFS dataset on FreeBSD, a btrfs
/// subvolume on Linux), mounted at the same path in every release's jail and snapshotted before
/// each release, so that `rollback --with-data` can put it back.
public protocol AppDataHost: Sendable {
    /// The steps that make `app`'s volume when it does not exist yet, owned by the app's user.
    func dataPlan(app: String) -> [HostStep]
    /// The steps `ensureData` runs as the host is now: `dataPlan` while the volume is missing, none once it exists.
    func dataSteps(app: String) async -> [HostStep]
    /// Makes the volume if it is missing; refuses one that this state_dir did not make.
    func ensureData(app: String) async throws
    /// The step that takes snapshot `name` of the volume (atomic, read-only).
    func snapshotPlan(app: String, name: String) -> [HostStep]
    /// Runs `snapshotPlan`.
    func snapshotData(app: String, name: String) async throws
    /// Whether snapshot `name` exists.
    func hasSnapshot(app: String, name: String) async -> Bool
    /// The steps that destroy snapshot `name` as the host is now (none when it is gone).
    func destroySnapshotSteps(app: String, name: String) async -> [HostStep]
    /// Runs `destroySnapshotSteps`: one that is already gone is not an error.
    func destroySnapshot(app: String, name: String) async throws
    /// The steps that put the volume back to snapshot `name` and destroy the `newer` ones (ZFS
    /// cannot keep them: zfs-rollback(8) `-r`). Every jail that mounts the volume must be stopped.
    func restorePlan(app: String, name: String, newer: [String]) -> [HostStep]
    /// Runs `restorePlan`.
    func restoreData(app: String, name: String, newer: [String]) async throws
    /// The steps that delete the volume and every snapshot of it for good, as the host is now
    /// (none when there is no volume): `jailpilot remove APP --data`.
    func destroyDataSteps(app: String) async -> [HostStep]
    /// Runs `destroyDataSteps` after checking the volume is this state_dir's (its owner marker);
    /// no jail may mount it. A volume that is not there is not an error.
    func destroyData(app: String) async throws
    /// The steps that run the release step `argv` in the running jail of `spec`, as the app's
    /// user, with its environment and data.
    func releaseStepPlan(_ spec: JailSpec, argv: [String]) -> [HostStep]
    /// Runs the release step, its output appended to the jail's app log; a time-out kills it.
    func runReleaseStep(_ spec: JailSpec, argv: [String], timeout: Duration) async throws -> ProcessResult
}

/// The app's user inside its jails (nobody): the owner of its data volume.
enum AppUser {
    static let uid = "65534"
    static let gid = "65534"
}

/// Snapshot names: `<sha12>-<yyyymmddThhmmssZ>`, valid on ZFS (zfs(8): letters, digits and
/// `-_.:`) and as a btrfs path component.
public enum SnapshotName {
    public static func make(sha: String, at date: Date = Date()) -> String {
        "\(sha.prefix(12))-\(compact(date))"
    }

    /// UTC, `yyyymmddThhmmssZ`.
    static func compact(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return
            "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
    }

    /// Whether `name` has the form `make` gives (it reaches a dataset name and a path).
    public static func isValid(_ name: String) -> Bool {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        return parts.count == 2 && Names.isLowerHex(parts[0], count: 12) && parts[1].count == 16
            && parts[1].allSatisfy { $0.isASCII && ($0.isNumber || $0 == "T" || $0 == "Z") }
    }
}

/// The app's data volume belongs to another state_dir (or to no jailpilot at all).
public struct DataOwnershipError: Error, Sendable, CustomStringConvertible {
    public var app: String
    public var volume: String
    public var found: String
    public var description: String {
        "the data volume \(volume) of \(app) exists but is not this state_dir's (its owner marker is \(found.isEmpty ? "missing" : "'\(found)'")); it was left untouched. Move it away, or point this agent at the state_dir that made it"
    }
}
