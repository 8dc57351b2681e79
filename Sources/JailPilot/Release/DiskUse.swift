import FoundationEssentials
import Glibc

/// What one app keeps under state_dir (`jailpilot status` shows it): its artifacts, bare
/// mirror, build caches and logs. Sizes are allocated bytes, like `du`.
public struct AppDiskUse: Sendable, Codable, Equatable {
    public var artifacts: Int
    public var artifactBytes: Int64
    public var mirrorBytes: Int64
    public var cacheBytes: Int64
    public var logBytes: Int64

    public var total: Int64 { artifactBytes + mirrorBytes + cacheBytes + logBytes }

    /// Measures `app`'s directories under `layout`.
    public static func measure(_ app: String, layout: StateLayout) -> AppDiskUse {
        let artifacts = FileIO.parent(layout.artifactDir(app, String(repeating: "0", count: 40)))
        let count = ((try? FileManager.default.contentsOfDirectory(atPath: artifacts)) ?? []).filter(Names.isFullSHA).count
        return AppDiskUse(
            artifacts: count, artifactBytes: DiskUsage.bytes(artifacts), mirrorBytes: DiskUsage.bytes(layout.mirror(app)),
            cacheBytes: DiskUsage.bytes(layout.buildCache(app)), logBytes: DiskUsage.bytes(layout.logs(app)))
    }

    /// "3 artifacts 42.0 MiB, mirror 1.1 MiB, build caches 310.2 MiB, logs 2.0 MiB".
    public var text: String {
        let noun = artifacts == 1 ? "artifact" : "artifacts"
        return "\(artifacts) \(noun) \(ByteCount.approximate(artifactBytes)), mirror \(ByteCount.approximate(mirrorBytes)), "
            + "build caches \(ByteCount.approximate(cacheBytes)), logs \(ByteCount.approximate(logBytes))"
    }
}

/// `du -s` without following symlinks or crossing into what cannot be read.
public enum DiskUsage {
    /// Directories deeper than this are not descended into (Go's caches are a few levels deep).
    static let maxDepth = 64

    /// The bytes allocated to `path` and everything under it; 0 when it does not exist.
    public static func bytes(_ path: String) -> Int64 { bytes(path, depth: 0) }

    private static func bytes(_ path: String, depth: Int) -> Int64 {
        var info = stat()
        guard lstat(path, &info) == 0 else { return 0 }
        var total = Int64(info.st_blocks) * 512
        guard (info.st_mode & S_IFMT) == S_IFDIR, depth < maxDepth,
            let names = try? FileManager.default.contentsOfDirectory(atPath: path)
        else { return total }
        for name in names { total += bytes("\(path)/\(name)", depth: depth + 1) }
        return total
    }
}
