import Foundation
import JailPilot

/// The host state the FreeBSD commands depend on, and how it changes: what the kernel has
/// loaded (pf), boot-only tunables (kern.racct.enable, read from loader.conf at boot only), pf's
/// rulesets and which anchors the main ruleset reaches, and lo1. Kept in files under
/// `<root>/.host/` so that the shell stand-ins (Fixtures/freebsd/sysctl, rctl) read the same state.
extension FreeBSDStandIn {
    /// How far a host has come: as installed, after the bootstrap (no reboot yet), after a reboot.
    enum HostStage { case fresh, bootstrapped, ready }

    var hostDir: String { "\(root)/.host" }
    /// What the host's syslog got (/var/log/messages).
    var syslog: String { "\(hostDir)/messages" }
    var pfDevice: String { paths.pfDevice }

    /// Puts the host in `stage`. `fresh`: GENERIC's defaults, pf not loaded, accounting off.
    /// `bootstrapped`: what bootstrap-freebsd-host leaves before the reboot it asks for:
    /// loader.conf and rc.conf written, pf loaded by hand with its pf.conf, accounting still
    /// off (a boot-only tunable). `ready`: that host rebooted.
    func setStage(_ stage: HostStage) throws {
        try FileIO.makeDirectories("\(hostDir)/sysctl")
        try FileIO.makeDirectories("\(root)/boot")
        try FileIO.makeDirectories("\(root)/dev")
        // GENERIC has RACCT compiled in, RACCT_DEFAULT_TO_DISABLED (sys/amd64/conf/GENERIC).
        try FileIO.replace("\(hostDir)/sysctl/kern.racct.enable", text: "0\n")
        // A fresh 15.x host: if_bridge filters neither members nor locally bound packets
        // (sys/net/if_bridge.c defaults, 0 since "bridge: default to not filtering L3"), and
        // no forwarding without gateway_enable.
        for (name, value) in [
            ("net.link.bridge.pfil_member", "0"), ("net.link.bridge.pfil_local_phys", "0"),
            ("net.link.bridge.pfil_bridge", "0"), ("net.inet.ip.forwarding", "0"),
        ] {
            try FileIO.replace("\(hostDir)/sysctl/\(name)", text: value + "\n")
        }
        try? FileManager.default.removeItem(atPath: ifaceDir)
        try writeInterface("lo0", ["kind": "loopback", "inet": "127.0.0.1"])
        try writeInterface(Self.egress.name, ["kind": "ether", "inet": Self.egress.address])
        unlink(pfDevice)
        lock.withLock {
            pfRulesets = [:]
            pfParsed = [:]
            pfStates = []
            pfEnabled = false
        }
        guard stage != .fresh else { return }
        // The bootstrap's template resolv.conf (local_unbound on lo1's address) and Go in the
        // build template (pkg --rootdir; hidden in the stand-in's jexec by the host's /usr).
        let gateway = IPv4Network(network)?.host(1) ?? ""
        try FileIO.replace("\(mountpoint)/templates/\(template)/etc/resolv.conf", text: "nameserver \(gateway)\n")
        // The bootstrap's network: the bridge (or lo1) with the gateway address, if_bridge's
        // filtering of members and of what they send this host, forwarding, unbound on the gateway.
        if networkMode == .vnet {
            try writeInterface("jailpilot0", ["kind": "bridge", "inet": gateway])
        } else {
            try writeInterface("lo1", ["kind": "loopback", "inet": gateway])
        }
        for name in ["net.link.bridge.pfil_member", "net.link.bridge.pfil_local_phys", "net.inet.ip.forwarding"] {
            try FileIO.replace("\(hostDir)/sysctl/\(name)", text: "1\n")
        }
        lock.withLock { hostListeners += [(gateway, 53, "udp"), (gateway, 53, "tcp")] }
        let go = "\(mountpoint)/templates/\(buildTemplate)/usr/local/bin/go"
        if !FileManager.default.fileExists(atPath: go), let real = Self.hostGo {
            try FileIO.makeDirectories(FileIO.parent(go))
            try FileManager.default.createSymbolicLink(atPath: go, withDestinationPath: real)
        }
        try FileIO.replace(paths.loaderConf, text: "kern.racct.enable=\"1\"\n")
        try FileIO.replace(
            "\(root)/etc/rc.conf",
            text: "pf_enable=\"YES\"\ngateway_enable=\"YES\"\ncloned_interfaces=\"\(networkMode == .vnet ? "bridge0" : "lo1")\"\n"
        )
        try FileIO.replace("\(root)/etc/pf.conf", text: try Self.bootstrapPFConf())
        try FileIO.replace("\(root)/etc/pf.jailpilot.conf", text: try Self.bootstrapAnchorConf(network: network))
        // The bootstrap: kldload -n pf; pfctl -f /etc/pf.conf; pfctl -e.
        _ = try pfctl(["-f", "\(root)/etc/pf.conf"], loading: true)
        _ = try pfctl(["-e"])
        if stage == .ready { try reboot() }
    }

    /// A reboot: tunables from loader.conf take effect, pf comes up with pf.conf if rc.conf
    /// enables it, and whatever was loaded by hand since is gone.
    func reboot() throws {
        let loader = (try? String(contentsOfFile: paths.loaderConf, encoding: .utf8)) ?? ""
        let racct = loader.split(separator: "\n").contains { $0 == "kern.racct.enable=1" || $0 == "kern.racct.enable=\"1\"" }
        try FileIO.replace("\(hostDir)/sysctl/kern.racct.enable", text: racct ? "1\n" : "0\n")
        unlink(pfDevice)
        lock.withLock {
            pfRulesets = [:]
            pfParsed = [:]
            pfStates = []
        }
        // Cloned interfaces are kernel state: the epairs are gone; the bridge comes back from rc.conf.
        for (name, iface) in interfaces() where iface["kind"] == "epair" { removeInterface(name) }
        let rc = (try? String(contentsOfFile: "\(root)/etc/rc.conf", encoding: .utf8)) ?? ""
        lock.withLock { pfEnabled = false }
        if rc.contains("pf_enable=\"YES\"") {  // rc.d/pf: pfctl -f, then pfctl -e
            _ = try pfctl(["-f", "\(root)/etc/pf.conf"], loading: true)
            _ = try pfctl(["-e"])
        }
    }

    /// This machine's go, which the build template's /usr/local/bin/go points at.
    static let hostGo = ["/usr/bin/go", "/usr/local/go/bin/go", "/usr/lib/go/bin/go"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// The rctl rules in force now.
    var rctlRules: [String] {
        ((try? String(contentsOfFile: "\(hostDir)/rctl.rules", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// pfctl(8): `-f FILE` (the main ruleset, with its `load anchor` lines), `-a ANCHOR -f FILE`,
    /// `[-a ANCHOR] -s rules`. Every use opens /dev/pf first and exits 1 without it.
    func pfctl(_ argv: [String], loading: Bool = false) throws -> ProcessResult {
        if loading, !FileManager.default.fileExists(atPath: pfDevice) {
            _ = FileManager.default.createFile(atPath: pfDevice, contents: nil)  // kldload pf
        }
        guard FileManager.default.fileExists(atPath: pfDevice) else {
            return fail("pfctl: /dev/pf: No such file or directory")
        }
        var args = argv
        var anchor = ""
        if args.first == "-a", args.count >= 2 {
            anchor = args[1]
            args.removeFirst(2)
        }
        switch (args.first, args.count) {
        case ("-f", 2):
            guard let text = try? String(contentsOfFile: args[1], encoding: .utf8) else {
                return fail("pfctl: cannot open the main config file!: No such file or directory")
            }
            // pfctl parses the whole file first and loads nothing from one it cannot read.
            let parsed: StandInPF.Ruleset
            do { parsed = try StandInPF.parse(text) } catch {
                return fail("\(error)\npfctl: Syntax error in config file: pf rules not loaded")
            }
            lock.withLock { pfParsed[anchor] = parsed }
            var loads: [(String, String)] = []
            var rules: [String] = []
            for raw in text.split(separator: "\n") {
                let line = raw.trimmingCharacters(in: .whitespaces)
                if line.isEmpty || line.hasPrefix("#") { continue }
                if line.hasPrefix("load anchor ") {
                    let words = line.split(separator: " ").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
                    guard words.count == 5, words[3] == "from" else { return fail("pfctl: syntax error in \(args[1])") }
                    loads.append((words[2], words[4]))
                } else {
                    rules.append(line)
                }
            }
            lock.withLock { pfRulesets[anchor] = rules }
            for (child, file) in loads {
                let path = file.hasPrefix(root) ? file : root + file
                let result = try pfctl(["-a", anchor.isEmpty ? child : "\(anchor)/\(child)", "-f", path])
                guard result.succeeded else { return result }
            }
            return ok()
        case ("-e", 1):
            lock.withLock { pfEnabled = true }
            return ok()
        case ("-s", 2) where args[1] == "info":
            return ok(
                lock.withLock { pfEnabled }
                    ? "Status: Enabled for 0 days 00:00:01           Debug: Urgent\n" : "Status: Disabled\n")
        case ("-v", 5) where args[1...3] == ["-s", "Interfaces", "-i"]:
            // `set skip on NAME` in the main ruleset marks the interface or group.
            let name = args[4]
            let skipped = lock.withLock { pfParsed[""]?.skip ?? [] }.contains(name)
            return ok(skipped ? "\(name) (skip)\n" : "\(name)\n")
        case ("-s", 2) where args[1] == "rules":
            // pfctl prints an anchor rule as `anchor "NAME" all`.
            let rules = lock.withLock { pfRulesets[anchor] ?? [] }
            return ok(
                rules.filter { !$0.hasPrefix("nat") && !$0.hasPrefix("set ") }.map { rule in
                    rule.hasPrefix("anchor ") && !rule.contains(" all") ? rule + " all" : rule
                }.map { $0 + "\n" }.joined())
        default:
            return fail("pfctl: usage: \(argv)")
        }
    }

    /// The anchors pf evaluates filter rules in: those a chain of `anchor` rules reaches from the
    /// main ruleset (pf.conf(5), ANCHORS: names are relative to the anchor holding the rule;
    /// `NAME/*` evaluates the anchors attached directly under NAME). Loading rules into an
    /// anchor with `pfctl -a` does nothing by itself.
    var evaluatedAnchors: Set<String> {
        let rulesets = lock.withLock { pfRulesets }
        var reached: Set<String> = []
        var queue = [""]
        while let anchor = queue.popLast() {
            for rule in rulesets[anchor] ?? [] where rule.hasPrefix("anchor ") {
                let name = rule.split(separator: " ")[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                let path = anchor.isEmpty ? name : "\(anchor)/\(name)"
                let targets =
                    path.hasSuffix("/*")
                    ? rulesets.keys.filter {
                        $0.hasPrefix(String(path.dropLast())) && !$0.dropFirst(path.count - 1).contains("/")
                    }
                    : [path]
                for target in targets where reached.insert(target).inserted { queue.append(target) }
            }
        }
        return reached
    }

    /// A line of jail.conf's exec.prestart or exec.poststop, run on the host as jail(8) does,
    /// its output not in exec.consolelog (jail(8) gives that to commands in the jail only,
    /// usr.sbin/jail/command.c) but on jail(8)'s own stderr; jailpilot's helpers run with the FreeBSD tools they call
    /// pointing at the stand-ins, logger(1) appending to `syslog`.
    func runHostCommand(_ line: String) async throws -> ProcessResult {
        var argv = line.split(separator: " ").map(String.init)
        guard let program = argv.first else { return ok() }
        if program.hasPrefix(root + "/"), var text = try? String(contentsOfFile: program, encoding: .utf8) {
            text = text.replacingOccurrences(of: "/sbin/sysctl", with: "\(Self.fixtures)/sysctl")
            text = text.replacingOccurrences(of: "/usr/bin/rctl", with: "\(Self.fixtures)/rctl")
            text = text.replacingOccurrences(of: "/sbin/ifconfig", with: "\(Self.fixtures)/ifconfig")
            text = text.replacingOccurrences(of: "/usr/bin/logger -t jailpilot", with: "echo >> \(syslog) jailpilot:")
            let copy = "\(hostDir)/\((program as NSString).lastPathComponent)"
            try FileIO.replace(copy, text: text, mode: 0o755)
            argv[0] = copy
        } else if program == "/usr/bin/rctl" {
            argv[0] = "\(Self.fixtures)/rctl"
        }
        return try await real.run(
            Command("/bin/sh", argv, environment: ["PATH": "/usr/bin:/bin", "STANDIN_HOST": hostDir]), stdout: .discard,
            stderr: .capture, timeout: .seconds(30))
    }

    /// The bootstrap's pf.conf hooks, read from scripts/bootstrap-freebsd-host itself.
    static func bootstrapPFConf() throws -> String {
        try bootstrapBlock("PF_HOOKS")
    }

    /// The bootstrap's /etc/pf.jailpilot.conf for `network`, egress interface vtnet0.
    static func bootstrapAnchorConf(network: String) throws -> String {
        try bootstrapBlock("PF_ANCHOR").replacingOccurrences(of: "$ext_if", with: "vtnet0").replacingOccurrences(
            of: "$network", with: network)
    }

    /// The lines of a here-document `<<NAME … NAME` in the bootstrap script.
    static func bootstrapBlock(_ name: String) throws -> String {
        let script = URL(fileURLWithPath: fixtures).appendingPathComponent("../../../../scripts/bootstrap-freebsd-host").path
        let lines = try String(contentsOfFile: script, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.hasSuffix("<<\(name)") || $0.hasSuffix("<<'\(name)'") }),
            let end = lines[(start + 1)...].firstIndex(where: { $0 == name })
        else { throw StandInError(message: "no here-document \(name) in \(script)") }
        return lines[(start + 1)..<end].joined(separator: "\n") + "\n"
    }
}

/// The stand-in could not model what a test asked of it.
struct StandInError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
