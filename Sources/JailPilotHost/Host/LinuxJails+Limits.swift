import FoundationEssentials
import Glibc
import JailPilotCore

/// A release's limits on Linux: memory and CPU through a cgroup the supervisor puts itself in
/// before it starts the service (cgroup v2, or v1's memory and cpu hierarchies, whichever the
/// host has), disk through a btrfs qgroup limit on the release's subvolume (`-e`: what the
/// release writes itself, not what it shares with its template; btrfs-qgroup(8)).
extension LinuxJails {
    /// Where the host's cgroup controllers are.
    enum CgroupLayout: Equatable {
        case v2(root: String)
        case v1(memory: String, cpu: String)
        case none

        static func detect(root: String = "/sys/fs/cgroup") -> CgroupLayout {
            if FileIO.exists("\(root)/cgroup.controllers") { return .v2(root: root) }
            if FileIO.isDirectory("\(root)/memory"), FileIO.isDirectory("\(root)/cpu") {
                return .v1(memory: "\(root)/memory", cpu: "\(root)/cpu")
            }
            return .none
        }
    }

    /// The release's cgroup directories (removed when it stops).
    func cgroupDirs(_ name: String) -> [String] {
        switch cgroups {
        case .v2(let root): return ["\(root)/jailpilot/\(name)"]
        case .v1(let memory, let cpu): return ["\(memory)/jailpilot/\(name)", "\(cpu)/jailpilot/\(name)"]
        case .none: return []
        }
    }

    /// The steps that make the release's cgroups with its limits, before anything of it runs.
    /// They run on the host: inside `ip netns exec`, /sys is the namespace's own sysfs, without
    /// the cgroup mounts (ip-netns(8)).
    func limitSteps(_ spec: JailSpec) -> [HostStep] {
        let (quota, period) = spec.limits.cpuQuota
        switch cgroups {
        case .v2(let root):
            let cg = "\(root)/jailpilot/\(spec.name)"
            return [
                .run(Command("mkdir", ["-p", cg])),
                .put(path: "\(root)/jailpilot/cgroup.subtree_control", value: "+memory +cpu"),
                .put(path: "\(cg)/memory.max", value: String(spec.limits.memory)),
                .put(path: "\(cg)/cpu.max", value: "\(quota) \(period)"),
            ]
        case .v1(let memory, let cpu):
            return [
                .run(Command("mkdir", ["-p", "\(memory)/jailpilot/\(spec.name)", "\(cpu)/jailpilot/\(spec.name)"])),
                .put(path: "\(memory)/jailpilot/\(spec.name)/memory.limit_in_bytes", value: String(spec.limits.memory)),
                .put(path: "\(cpu)/jailpilot/\(spec.name)/cpu.cfs_period_us", value: String(period)),
                .put(path: "\(cpu)/jailpilot/\(spec.name)/cpu.cfs_quota_us", value: String(quota)),
            ]
        case .none:
            return [.note("this host has no cgroup memory and cpu controllers: the release's limits cannot be applied")]
        }
    }

    /// `command` started inside the release's cgroups: a fixed launcher (no data in its text;
    /// the cgroup directories are its arguments) writes its own pid into each, then execs.
    func enteringCgroups(_ command: Command, _ name: String) -> Command {
        let dirs = cgroupDirs(name)
        guard !dirs.isEmpty else { return command }
        let launcher =
            #"while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs" || exit 125; shift; done; shift; exec "$@""#
        return Command(
            "/bin/sh", ["-c", launcher, "jailpilot-cgroup"] + dirs + ["--", command.executable] + command.arguments,
            environment: command.environment, workingDirectory: command.workingDirectory)
    }

    /// A minimal /dev in the jail's own mount namespace: null, zero, random and urandom, bound
    /// from the host's (Go's os/exec and crypto/rand need them); nothing else of the host's /dev.
    var deviceLines: String {
        """
        mount -t tmpfs -o mode=0755,size=64k,nosuid,noexec jaildev "$root/dev" || fail "cannot mount its /dev"
        for dev in null zero random urandom; do
            : > "$root/dev/$dev" && mount --bind "/dev/$dev" "$root/dev/$dev" || fail "cannot provide /dev/$dev"
        done
        """
    }

    /// The disk limit step of provisioning.
    func diskLimit(_ spec: JailSpec) -> HostStep {
        .run(Command("btrfs", ["qgroup", "limit", "-e", String(spec.limits.disk), container(spec.name)]))
    }

    /// copytruncate, as logrotate(8) names it: the supervisor holds the log open for appending
    /// (O_APPEND), so the file is copied to `.1` (older ones shifted up to `.keep`) and then cut
    /// to zero; the service's next write lands at the new end. Lines written during the copy
    /// can be lost, as with logrotate's copytruncate.
    public func rotateLog(_ spec: JailSpec, limit: Int, keep: Int) {
        let path = logPath(spec)
        guard keep >= 1, let size = FileIO.size(path), size > limit else { return }
        unlink("\(path).\(keep)")
        for index in stride(from: keep - 1, through: 1, by: -1) { rename("\(path).\(index)", "\(path).\(index + 1)") }
        guard (try? FileIO.copy(from: path, to: "\(path).1", mode: 0o640)) != nil else { return }
        truncate(path, 0)
    }
}
