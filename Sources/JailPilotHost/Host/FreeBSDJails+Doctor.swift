import FoundationEssentials
import JailPilotCore

/// What a FreeBSD host needs, checked against the host itself: `jailpilot doctor`.
extension FreeBSDJails {
    static let bootstrap = "/usr/local/share/jailpilot/bootstrap-freebsd-host (scripts/bootstrap-freebsd-host in the source)"

    public func hostChecks() async -> [HostCheck] {
        var checks: [HostCheck] = []
        let containers = "\(settings.dataset)/containers"
        checks.append(
            HostCheck(
                "dataset", ok: await succeeds("zfs", ["list", "-H", "-o", "name", containers]),
                containers, fix: "\(Self.bootstrap) --dataset \(settings.dataset) --mountpoint \(settings.mountpoint)"))
        checks.append(
            HostCheck(
                "template", ok: await succeeds("zfs", ["list", "-H", "-t", "snapshot", "-o", "name", snapshot]), snapshot,
                fix: "\(Self.bootstrap) --version \(settings.template)"))
        checks.append(await spaceCheck())
        checks += await interfaceCheck()
        checks.append(resolverCheck())
        return checks + (await enforcementChecks())
    }

    public func enforcementChecks() async -> [HostCheck] {
        [await accountingCheck()] + (await packetFilterChecks())
    }

    /// kern.racct.enable is read at boot only (CTLFLAG_RDTUN, sys/kern/kern_racct.c).
    func accountingCheck() async -> HostCheck {
        let name = "resource accounting"
        guard let value = await output("sysctl", ["-n", "kern.racct.enable"]) else {
            return HostCheck(
                name, ok: false, "this kernel has no RACCT (sysctl kern.racct.enable is unknown)",
                fix: "build a kernel with options RACCT and options RCTL (GENERIC has both)", degrades: "limits")
        }
        if value == "1" { return HostCheck(name, ok: true, "kern.racct.enable=1", degrades: "limits") }
        let loader = (try? FileIO.readText(paths.loaderConf)) ?? ""
        let pending = loader.split(separator: "\n").contains {
            $0.replacing("\"", with: "").trimmedWhitespace == "kern.racct.enable=1"
        }
        return pending
            ? HostCheck(
                name, ok: false, "kern.racct.enable=1 is in \(paths.loaderConf) but takes effect at boot only: reboot",
                fix: "shutdown -r now", degrades: "limits")
            : HostCheck(
                name, ok: false, "kern.racct.enable=0: reboot with kern.racct.enable=1",
                fix: "sysrc -f \(paths.loaderConf) kern.racct.enable=1 && shutdown -r now", degrades: "limits")
    }

    /// What keeps the jails apart, as far as this host shows it: with VNET jails, pf loaded and
    /// enabled, run on bridge members, not skipping the jails' interfaces, and the jails'
    /// anchor loaded and reached from the main ruleset (pf evaluates an anchor only through a
    /// rule naming it, relative to the anchor holding the rule: pf.conf(5), ANCHORS). Alias jails
    /// share this host's network stack: nothing here can isolate them, and this says so.
    func packetFilterChecks() async -> [HostCheck] {
        let what = "network policy"
        guard settings.networkMode == .vnet else {
            return [
                HostCheck(
                    "isolation", ok: false,
                    "network_mode = \"alias\": the jails' addresses are this host's own (lo1 aliases), so pf cannot keep them from each other or from this host's services (docs/FREEBSD.md, \"Isolation\")",
                    fix:
                        "set network_mode = \"vnet\" under [jails] in agent.conf and run \(Self.bootstrap) (it makes the bridge jailpilot0); releases deployed after that are VNET jails",
                    degrades: what)
            ] + (FileIO.exists(paths.pfDevice) ? [] : [pfMissing(degrades: "outside access (NAT)")])
        }
        // if_bridge runs pf on a member only with pfil_member=1, and on a member for what is
        // delivered to this host (or routed on) only with pfil_local_phys=1 as well
        // (sys/net/if_bridge.c: bridge_forward, bridge_input's GRAB_OUR_PACKETS). 15.x defaults
        // both to 0, so the bootstrap sets them.
        let member = await output("sysctl", ["-n", "net.link.bridge.pfil_member"])
        let local = await output("sysctl", ["-n", "net.link.bridge.pfil_local_phys"])
        let both = member == "1" && local == "1"
        let filtered = HostCheck(
            "bridge filtering", ok: both,
            both
                ? "net.link.bridge.pfil_member=1 and pfil_local_phys=1: pf sees what each jail sends on its epair"
                : "net.link.bridge.pfil_member=\(member ?? "unknown"), pfil_local_phys=\(local ?? "unknown"): pf does not see all that the jails send",
            fix:
                "sysctl net.link.bridge.pfil_member=1 net.link.bridge.pfil_local_phys=1, and the same two lines in /etc/sysctl.conf (\(Self.bootstrap) does both)",
            degrades: what)
        guard FileIO.exists(paths.pfDevice) else { return [pfMissing(degrades: what), filtered] }
        // Loaded is not enabled: `kldload pf` without `pfctl -e` filters nothing.
        let info = await output("pfctl", ["-s", "info"]) ?? ""
        let enabled = info.split(separator: "\n").contains { $0.hasPrefix("Status: Enabled") }
        let loaded = HostCheck(
            "pf loaded", ok: enabled, enabled ? "pf is loaded and enabled" : "pf is loaded but not enabled",
            fix: "sysrc pf_enable=YES && service pf start", degrades: what)
        // `set skip on` an interface or its group exempts it from every rule.
        let group = FreeBSDJailNetwork.group
        let interfaces = await output("pfctl", ["-v", "-s", "Interfaces", "-i", group]) ?? ""
        let skipped = interfaces.contains("(skip)")
        let unskipped = HostCheck(
            "pf on the jails", ok: !skipped,
            skipped
                ? "pf.conf has set skip on \(group) (or its members), so the jails' rules never see their traffic"
                : "pf filters the jails' epairs (group \(group))",
            fix: "remove that `set skip on` from /etc/pf.conf, then pfctl -f /etc/pf.conf", degrades: what)
        let main = await output("pfctl", ["-s", "rules"]) ?? ""
        func names(_ text: String) -> [String] {
            text.split(separator: "\n").compactMap { line in
                let words = line.split(separator: " ")
                return words.count >= 2 && words[0] == "anchor" ? String(words[1]).replacing("\"", with: "") : nil
            }
        }
        let fix =
            "add anchor \"jails\" to /etc/pf.jailpilot.conf and anchor \"jailpilot\" to /etc/pf.conf (\(Self.bootstrap) does both), then pfctl -f /etc/pf.conf"
        let reached: Bool
        if names(main).contains("jailpilot/*") {
            reached = true
        } else if names(main).contains("jailpilot") {
            reached = names(await output("pfctl", ["-a", "jailpilot", "-s", "rules"]) ?? "").contains("jails")
        } else {
            reached = false
        }
        // pfctl prints the rules loaded in an anchor; the agent's file always has its block rules.
        let rules = await output("pfctl", ["-a", "jailpilot/jails", "-s", "rules"]) ?? ""
        return [
            loaded, filtered, unskipped,
            HostCheck(
                "pf policy", ok: !rules.isEmpty,
                rules.isEmpty ? "the anchor jailpilot/jails holds no rules" : "jailpilot/jails holds the jails' rules",
                fix: "pfctl -a jailpilot/jails -f \(paths.pfJails)   (the agent loads it at every start and release start)",
                degrades: what),
            HostCheck(
                "pf anchor", ok: reached,
                reached
                    ? "the main ruleset reaches jailpilot/jails"
                    : "no rule reaches the anchor jailpilot/jails, so pf never evaluates the jails' rules", fix: fix,
                degrades: what),
        ]
    }

    /// pf(4) is not loaded: pfctl needs /dev/pf (sbin/pfctl/pfctl.c opens it first).
    func pfMissing(degrades: String) -> HostCheck {
        HostCheck(
            "pf loaded", ok: false, "no \(paths.pfDevice): pf(4) is not loaded, so pfctl cannot load the jails' rules or NAT",
            fix: "sysrc pf_enable=YES && service pf start   (\(Self.bootstrap) writes a pf.conf if there is none)",
            degrades: degrades)
    }

    /// The interface with the jails' gateway address: the bridge jailpilot0 (vnet) or lo1
    /// (alias), as the bootstrap makes it; with VNET jails, forwarding for their way out.
    func interfaceCheck() async -> [HostCheck] {
        let gateway = settings.network.host(1) ?? ""
        let text = await output("ifconfig", [settings.interface]) ?? ""
        let vnet = settings.networkMode == .vnet
        let isBridge = text.split(separator: "\n").contains {
            $0.trimmedWhitespace.hasPrefix("groups:") && $0.contains("bridge")
        }
        let ok = text.contains("inet \(gateway) ") && (!vnet || isBridge)
        var checks = [
            HostCheck(
                vnet ? "bridge" : "interface", ok: ok,
                ok
                    ? "\(settings.interface) has \(gateway)"
                    : "\(settings.interface) is missing\(vnet ? ", not a bridge," : "") or lacks \(gateway)",
                fix:
                    "\(Self.bootstrap) --address \(gateway) --network \(settings.network)\(vnet ? "" : " --network-mode alias")")
        ]
        if vnet {
            let forwarding = await output("sysctl", ["-n", "net.inet.ip.forwarding"])
            checks.append(
                HostCheck(
                    "forwarding", ok: forwarding == "1",
                    forwarding == "1"
                        ? "net.inet.ip.forwarding=1: the jails reach the outside through NAT"
                        : "net.inet.ip.forwarding=\(forwarding ?? "unknown"): the jails reach nothing outside this host",
                    fix: "sysrc gateway_enable=YES && sysctl net.inet.ip.forwarding=1", degrades: "outside access"))
        }
        return checks
    }

    /// Inside a non-VNET jail 127.0.0.1 is the jail's own address, inside a VNET jail its own
    /// loopback: a template whose resolv.conf names only loopback resolvers gives the jails no DNS.
    func resolverCheck() -> HostCheck {
        let file = "\(settings.mountpoint)/templates/\(settings.template)/etc/resolv.conf"
        let servers = ((try? FileIO.readText(file)) ?? "").split(separator: "\n").compactMap { line -> String? in
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            return words.count >= 2 && words[0] == "nameserver" ? String(words[1]) : nil
        }
        let reachable = servers.filter { !$0.hasPrefix("127.") && $0 != "::1" }
        return HostCheck(
            "jail resolver", ok: !reachable.isEmpty,
            reachable.isEmpty
                ? "\(file) names no resolver a jail can reach (\(servers.isEmpty ? "none" : servers.joined(separator: ", ")))"
                : "the jails ask \(reachable.joined(separator: ", "))",
            fix: "\(Self.bootstrap): local_unbound then also answers on \(settings.network.host(1) ?? "lo1's address")")
    }

    /// Free space in the pool under the jails' dataset.
    func spaceCheck() async -> HostCheck {
        guard let text = await output("zfs", ["list", "-H", "-p", "-o", "available", settings.dataset]), let bytes = Int(text)
        else { return HostCheck("pool space", ok: false, "zfs list \(settings.dataset) failed", fix: "zpool status") }
        return HostCheck(
            "pool space", ok: bytes >= HostSpace.minimum, "\(ByteCount.format(bytes)) free under \(settings.dataset)",
            fix: "free space in the pool (zfs list -o space), or lower keep in agent.conf")
    }

    func succeeds(_ program: String, _ arguments: [String]) async -> Bool {
        (try? await runner.run(Command(program, arguments), timeout: .seconds(10)))?.succeeded ?? false
    }

    /// The command's stdout, trimmed; nil when it fails.
    func output(_ program: String, _ arguments: [String]) async -> String? {
        guard let result = try? await runner.run(Command(program, arguments), timeout: .seconds(10)), result.succeeded else {
            return nil
        }
        return result.stdoutText.trimmedWhitespace
    }
}

/// How much free space a host check asks for.
public enum HostSpace {
    /// 1 GiB: a release clone, a build and its artifact.
    public static let minimum = 1 << 30
}
