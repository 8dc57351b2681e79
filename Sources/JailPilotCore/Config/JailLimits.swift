/// What one release's jail may use: memory, CPU and disk, with defaults in `[jails]` and
/// overrides per app. Linux: a cgroup (v2, or v1's memory and cpu hierarchies) and a btrfs
/// qgroup on the release's subvolume; FreeBSD: rctl(8) rules and a ZFS quota on its dataset.
public struct JailLimits: Sendable, Equatable {
    /// Resident memory, in bytes; the kernel kills the app beyond it (and the supervisor restarts it).
    public var memory: Int
    /// CPU time in thousandths of a core: 1500 is one and a half cores.
    public var millicores: Int
    /// Bytes the release may write beyond what it shares with its template.
    public var disk: Int

    public init(memory: Int = 512 << 20, millicores: Int = 2000, disk: Int = 1 << 30) {
        self.memory = memory
        self.millicores = millicores
        self.disk = disk
    }

    /// "memory 512MiB, cpu 2, disk 1GiB", as `status` shows it.
    public var summary: String {
        "memory \(ByteCount.format(memory)), cpu \(cores), disk \(ByteCount.format(disk))"
    }

    /// Cores in decimal without trailing zeros: 2000 → "2", 1500 → "1.5", 250 → "0.25".
    var cores: String {
        let fraction = millicores % 1000
        guard fraction != 0 else { return "\(millicores / 1000)" }
        var digits = String(fraction)
        digits = String(repeating: "0", count: 3 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(millicores / 1000).\(digits)"
    }

    /// cgroup CPU bandwidth: `quota` microseconds of CPU per `period` (100 ms).
    public var cpuQuota: (quota: Int, period: Int) { (max(1000, millicores * 100), 100_000) }
}
