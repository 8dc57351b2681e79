import FoundationEssentials
import Glibc
import JailPilotCore

/// What a Linux host needs, checked against the host itself: `jailpilot doctor`.
extension LinuxJails {
    public func hostChecks() async -> [HostCheck] {
        let template = "\(root)/templates/\(settings.template)"
        let type = try? await runner.run(Command("stat", ["--file-system", "--format=%T", root]), timeout: .seconds(10))
        let btrfs = type?.succeeded == true && type?.stdoutText.trimmedWhitespace == "btrfs"
        var checks = [
            HostCheck(
                "btrfs", ok: btrfs, btrfs ? "\(root) is btrfs" : "\(root) is missing or not on btrfs",
                fix: "scripts/bootstrap-linux-host (it makes a btrfs filesystem at \(root))"),
            HostCheck("template", ok: FileIO.isDirectory(template), template, fix: "scripts/bootstrap-linux-host"),
            HostCheck(
                "bridge", ok: FileIO.exists("/sys/class/net/\(settings.interface)"),
                "\(settings.interface) with \(gateway)", fix: "scripts/bootstrap-linux-host"),
            HostSpace.check(root, name: "btrfs space"),
            await toolCheck("nsenter", ["--version"], package: "util-linux"),
            await toolCheck("nft", ["list", "tables"], package: "nftables"),
        ]
        // Provision sets a qgroup limit and fails, saying this, without quotas.
        let quotas = await toolCheck("btrfs", ["qgroup", "show", root], package: "btrfs-progs")
        checks.append(
            HostCheck(
                "btrfs quotas", ok: quotas.ok, quotas.ok ? "enabled on \(root)" : "quotas are off on \(root)",
                fix: "btrfs quota enable \(root)"))
        return checks + (await enforcementChecks())
    }

    /// Without memory and cpu controllers a release runs without those limits.
    public func enforcementChecks() async -> [HostCheck] {
        let cgroupText: String
        switch cgroups {
        case .v2(let root): cgroupText = "v2 at \(root)"
        case .v1(let memory, _): cgroupText = "v1 at \(FileIO.parent(memory))"
        case .none: cgroupText = "no memory and cpu controllers under /sys/fs/cgroup"
        }
        return [
            HostCheck(
                "cgroups", ok: cgroups != .none, cgroupText, fix: "mount cgroup2 on /sys/fs/cgroup (systemd does)",
                degrades: "memory and cpu limits")
        ]
    }

    func toolCheck(_ program: String, _ arguments: [String], package: String) async -> HostCheck {
        let result = try? await runner.run(Command(program, arguments), timeout: .seconds(10))
        let ok = result?.succeeded ?? false
        return HostCheck(
            program, ok: ok,
            ok
                ? "\(program) \(arguments.joined(separator: " ")) works"
                : (result?.stderrText.trimmedWhitespace).map { $0.isEmpty ? "fails" : $0 } ?? "not installed",
            fix: "apt-get install \(package)")
    }
}

extension HostSpace {
    /// Free space on the filesystem holding `path`.
    public static func check(_ path: String, name: String) -> HostCheck {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else {
            return HostCheck(name, ok: false, "\(path): \(String(cString: strerror(errno)))", fix: "mkdir -p \(path)")
        }
        let free = Int(info.f_bavail) * Int(info.f_frsize)
        return HostCheck(
            name, ok: free >= minimum,
            "\(ByteCount.format(free)) free at \(path)\(free >= minimum ? "" : ", below the \(ByteCount.format(minimum)) a deploy needs")",
            fix:
                "free at least \(ByteCount.format(minimum - free)) more on the filesystem of \(path) (a release clone, a build and its artifact need \(ByteCount.format(minimum))), or lower keep in agent.conf"
        )
    }
}
