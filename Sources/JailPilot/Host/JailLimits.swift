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
        let cpu = millicores % 1000 == 0 ? "\(millicores / 1000)" : String(format2(Double(millicores) / 1000))
        return "memory \(ByteCount.format(memory)), cpu \(cpu), disk \(ByteCount.format(disk))"
    }

    private func format2(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let text = "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
        return text.hasSuffix("0") ? String(text.dropLast()) : text
    }

    /// cgroup CPU bandwidth: `quota` microseconds of CPU per `period` (100 ms).
    public var cpuQuota: (quota: Int, period: Int) { (max(1000, millicores * 100), 100_000) }
}
