import Foundation
import JailPilot
import Testing

/// The FreeBSD driver on hosts at each stage a real one passes through (the stand-in models the
/// state FreeBSD's tools depend on: kern.racct.enable read at boot only, pf loaded or not,
/// anchors evaluated only when a rule reaches them, 14.3's jexec flags): a fresh host, one
/// bootstrapped but not rebooted, and a ready one. Each failure `doctor` can report is provoked.
@Suite(.serialized, .enabled(if: canStandIn, "needs root, python3, go and setpriv"))
struct FreeBSDHostTests {
    /// The checks by name.
    func doctor(_ world: FreeBSDWorld) async -> [String: HostCheck] {
        Dictionary(await Doctor(runtime: world.runtime).checks().map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    func agentLog(_ world: FreeBSDWorld) -> String {
        (try? String(contentsOfFile: world.runtime.config.agent.logFile ?? "", encoding: .utf8)) ?? ""
    }

    @Test func aFreshHostDeploysWithoutLimitsOrPolicyAndSaysSoOnce() async throws {
        try await FreeBSDWorld.with(stage: .fresh) { world in
            // The bridge made by hand (`ifconfig bridge create name jailpilot0 inet …`), nothing
            // else of the bootstrap: without it no VNET jail has a network (FreeBSDIsolationTests).
            let gateway = IPv4Network(world.standIn.network)?.host(1) ?? ""
            try world.standIn.writeInterface("jailpilot0", ["kind": "bridge", "inet": gateway])
            let first = try await world.deployed("one")
            #expect(await world.fetch(first) == "one", "no reboot needed for a first deploy")
            #expect(world.standIn.rctlRules.isEmpty)
            // jail(8) gives exec.consolelog to commands in the jail only: the notice goes to syslog.
            let syslog = try String(contentsOfFile: world.standIn.syslog, encoding: .utf8)
            #expect(syslog.contains("jailpilot: limits of \(first.name) not enforced: resource accounting is off"))
            let calls = world.standIn.lock.withLock { world.standIn.calls }
            #expect(!calls.contains { $0.hasPrefix("pfctl -a jailpilot/jails") }, "pfctl would exit 1 without /dev/pf")
            #expect(FileManager.default.fileExists(atPath: world.standIn.paths.pfJails), "the rules wait for pf")

            _ = try await world.deployed("two")
            let log = agentLog(world)
            #expect(log.components(separatedBy: "event=host.not_enforced what=limits").count == 2, "logged once: \(log)")
            #expect(log.components(separatedBy: "event=host.not_enforced what=\"network policy\"").count == 2)

            let checks = await doctor(world)
            #expect(checks["resource accounting"]?.ok == false)
            #expect(
                checks["resource accounting"]?.fix
                    == "sysrc -f \(world.standIn.paths.loaderConf) kern.racct.enable=1 && shutdown -r now")
            #expect(checks["pf loaded"]?.ok == false)
            #expect(checks["jail resolver"]?.ok == false, "no resolv.conf in the template yet")
            #expect(checks["go in the build template"]?.ok == false)
            let host = try world.host
            let gaps = await host.enforcementGaps().compactMap(\.gap)
            #expect(gaps.contains { $0.hasPrefix("limits not enforced: kern.racct.enable=0") })
        }
    }

    @Test func aBootstrappedHostAsksForTheRebootAndAppliesLimitsAfterIt() async throws {
        try await FreeBSDWorld.with(stage: .bootstrapped) { world in
            let live = try await world.deployed("one")
            #expect(world.standIn.rctlRules.isEmpty, "accounting is a boot-only tunable")
            var checks = await doctor(world)
            #expect(checks["resource accounting"]?.ok == false)
            #expect(checks["resource accounting"]?.fix == "shutdown -r now")
            #expect(checks["pf loaded"]?.ok == true)
            #expect(checks["pf anchor"]?.ok == true, "the bootstrap's pf.conf and pf.jailpilot.conf reach jailpilot/jails")
            #expect(world.standIn.evaluatedAnchors.contains("jailpilot/jails"))

            // The reboot: pf comes back with pf.conf only, nothing starts the release (rc.d/jail
            // never sees it); the agent loads the jails' rules, then starts the live release, whose
            // jail gets its limits now.
            let conf = "\(world.runtime.config.agent.stateDir)/jail.conf.d/\(live.name).conf"
            _ = try await world.standIn.run(Command("jail", ["-f", conf, "-r", live.name]))
            try world.standIn.reboot()
            #expect(world.standIn.lock.withLock { world.standIn.pfRulesets["jailpilot/jails"] } == nil)
            let emptied = await doctor(world)["pf policy"]
            #expect(emptied?.ok == false && emptied?.fix?.hasPrefix("pfctl -a jailpilot/jails -f ") == true)
            let before = world.standIn.lock.withLock { world.standIn.calls.count }

            let agent = try Agent(configPath: world.configPath, runner: world.standIn, freebsdPaths: world.standIn.paths)
            let running = Task { await agent.run() }
            let back = await eventually(.seconds(30)) { await world.fetch(live) == "one" }
            await agent.stop()
            await running.value
            #expect(back, "the agent starts the live release after a reboot")
            #expect(world.standIn.rctlRules.contains("jail:\(live.name):memoryuse:sigkill=\(world.app.limits.memory)"))
            let calls = world.standIn.lock.withLock { Array(world.standIn.calls[before...]) }
            let policy = calls.firstIndex { $0.hasPrefix("pfctl -a jailpilot/jails -f ") }
            let start = calls.firstIndex { $0.hasPrefix("jail -f ") && $0.hasSuffix("-c \(live.name)") }
            #expect(policy != nil && start != nil && policy! < start!, "the policy is loaded before the jail starts: \(calls)")
            checks = await doctor(world)
            for name in ["resource accounting", "pf loaded", "pf policy", "pf anchor", "dataset", "template", "bridge"] {
                #expect(checks[name]?.ok == true, "\(name): \(checks[name]?.text ?? "missing")")
            }
        }
    }

    @Test func aReadyHostEnforcesLimitsAndTheJailsPolicyThroughTheAnchor() async throws {
        try await FreeBSDWorld.with(stage: .ready) { world in
            let first = try await world.deployed("one")
            let rules = world.standIn.rctlRules
            #expect(rules.contains("jail:\(first.name):memoryuse:sigkill=\(world.app.limits.memory)"))
            #expect(rules.contains("jail:\(first.name):pcpu:deny=\(world.app.limits.millicores / 10)"))
            let policy = world.standIn.lock.withLock { world.standIn.pfRulesets["jailpilot/jails"] } ?? []
            let address = first.address ?? ""
            let epair = FreeBSDJailNetworkProbe.epair(address) ?? ""
            #expect(
                policy.contains { $0.hasPrefix("block drop in quick on \(epair)a inet from ! \(address) to any") }, "\(policy)")
            #expect(world.standIn.evaluatedAnchors.contains("jailpilot/jails"))
            // What the rules do, packet by packet: Caddy and the health check reach the app; the
            // jail reaches neither the host's sshd nor anything else of it.
            #expect(world.standIn.connect(from: .host, to: address, port: world.port).isConnected)
            let sshd = world.standIn.connect(
                from: .jail(first.name), to: IPv4Network(world.standIn.network)?.host(1) ?? "", port: 22)
            #expect(!sshd.isConnected, "\(sshd)")

            _ = try await world.deployed("two")
            #expect(!world.standIn.rctlRules.contains { $0.hasPrefix("jail:\(first.name):") }, "jail -r removes its rules")
            let host = try world.host
            let gaps = await host.enforcementGaps()
            #expect(gaps.isEmpty, "\(gaps.map(\.text))")
            #expect(!agentLog(world).contains("host.not_enforced"))
        }
    }

    @Test func anAnchorFileWithoutTheJailsRuleIsReportedAsNotEvaluated() async throws {
        try await FreeBSDWorld.with(stage: .ready) { world in
            // What earlier bootstraps wrote: the nat rule only, so pf never evaluated jailpilot/jails.
            let anchorFile = "\(world.standIn.root)/etc/pf.jailpilot.conf"
            try FileIO.replace(anchorFile, text: "nat on vtnet0 inet from \(world.standIn.network) to any -> (vtnet0)\n")
            _ = try world.standIn.pfctl(["-f", "\(world.standIn.root)/etc/pf.conf"])
            _ = try await world.deployed("one")
            #expect(!world.standIn.evaluatedAnchors.contains("jailpilot/jails"))
            let check = try #require(await doctor(world)["pf anchor"])
            #expect(!check.ok && check.degrades == "network policy")
            #expect(check.fix?.contains("anchor \"jails\"") == true)
            let host = try world.host
            let gaps = await host.enforcementGaps().compactMap(\.gap)
            #expect(gaps.contains { $0.hasPrefix("network policy not enforced: no rule reaches") })
        }
    }

    @Test func pfLoadedButDisabledOrSkippingTheJailsIsNotEnforcing() async throws {
        try await FreeBSDWorld.with(stage: .ready) { world in
            let standIn = world.standIn
            _ = try await world.deployed("one")
            #expect(await doctor(world)["pf loaded"]?.ok == true)
            // kldload pf without pfctl -e: the rules load, nothing is filtered.
            standIn.lock.withLock { standIn.pfEnabled = false }
            let disabled = try #require(await doctor(world)["pf loaded"])
            #expect(!disabled.ok && disabled.fix == "sysrc pf_enable=YES && service pf start")
            // pf.conf examples often skip lo0: harmless, VNET jails' traffic never crosses it.
            let conf = "\(standIn.root)/etc/pf.conf"
            let original = try String(contentsOfFile: conf, encoding: .utf8)
            try FileIO.replace(conf, text: "set skip on lo0\n" + original)
            _ = try standIn.pfctl(["-f", conf])
            #expect(await doctor(world)["pf on the jails"]?.ok == true)
            // Skipping the jails' group is not.
            try FileIO.replace(conf, text: "set skip on { lo0 jpjail }\n" + original)
            _ = try standIn.pfctl(["-f", conf])
            let skipped = try #require(await doctor(world)["pf on the jails"])
            #expect(!skipped.ok && skipped.degrades == "network policy")
            let host = try world.host
            let gaps = await host.enforcementGaps().map(\.name).sorted()
            #expect(gaps == ["pf loaded", "pf on the jails"], "\(gaps)")
        }
    }

    @Test func eachMissingPrerequisiteIsAFailingCheckWithItsFix() async throws {
        try await FreeBSDWorld.with(stage: .ready) { world in
            let standIn = world.standIn
            standIn.lock.withLock {
                standIn.datasets["\(standIn.pool)/containers"] = nil
                standIn.datasets["\(standIn.pool)/builds"] = nil
                standIn.snapshots["\(standIn.pool)/templates/\(standIn.template)@base"] = nil
                standIn.snapshots["\(standIn.pool)/templates/\(standIn.buildTemplate)@base"] = nil
                standIn.available = 10 << 20
            }
            standIn.removeInterface("jailpilot0")
            try FileIO.replace("\(standIn.hostDir)/sysctl/net.link.bridge.pfil_local_phys", text: "0\n")
            try FileIO.replace("\(standIn.hostDir)/sysctl/net.inet.ip.forwarding", text: "0\n")
            unlink(standIn.paths.pfDevice)
            try FileIO.replace("\(standIn.hostDir)/sysctl/kern.racct.enable", text: "0\n")
            try FileIO.replace(standIn.paths.loaderConf, text: "")
            try FileIO.replace(
                "\(standIn.mountpoint)/templates/\(standIn.template)/etc/resolv.conf", text: "nameserver 127.0.0.1\n")
            let checks = await doctor(world)
            for name in [
                "dataset", "template", "bridge", "pool space", "jail resolver", "resource accounting", "pf loaded",
                "bridge filtering", "forwarding",
                "build template", "builds dataset", "caddy", "route resolver",
            ] {
                let check = try #require(checks[name], "no check named \(name)")
                #expect(!check.ok, "\(name) should fail: \(check.text)")
                #expect(check.fix?.isEmpty == false, "\(name) says how to mend it")
            }
            #expect(checks["jail resolver"]?.detail.contains("127.0.0.1") == true)
            #expect(checks["resource accounting"]?.fix?.hasPrefix("sysrc -f ") == true)
            // A kernel built without RACCT has no such sysctl at all.
            unlink("\(standIn.hostDir)/sysctl/kern.racct.enable")
            let kernel = try #require(await doctor(world)["resource accounting"])
            #expect(!kernel.ok && kernel.fix?.contains("options RACCT") == true)
            #expect(checks["bridge"]?.fix?.contains("--address \(IPv4Network(standIn.network)?.host(1) ?? "")") == true)
        }
    }

    @Test func jexecOf14_3RefusesTheWorkingDirectoryFlag() async throws {
        try await FreeBSDWorld.with { world in
            let refused = try await world.standIn.run(Command("jexec", ["-d", "/", "-U", "root", "none", "/bin/true"]))
            #expect(!refused.succeeded && refused.stderrText.contains("illegal option -- d"))
        }
    }

    @Test func rctlInPrestartFailsTheJailOnAHostWithoutAccounting() async throws {
        // What every jail.conf did before jail-limits: jail(8) refuses the jail when rctl fails.
        try await FreeBSDWorld.with(stage: .fresh) { world in
            let root = "\(world.standIn.mountpoint)/templates/\(world.standIn.template)"
            let conf = "\(world.scratch.path)/direct.conf"
            try FileIO.replace(
                conf,
                text: """
                    direct {
                        path = "\(root)";
                        ip4.addr = "\(IPv4Network(world.standIn.network)?.host(9) ?? "")";
                        persist;
                        exec.prestart = "/usr/bin/rctl -a jail:direct:memoryuse:sigkill=1000000";
                    }

                    """)
            let result = try await world.standIn.run(Command("jail", ["-f", conf, "-c", "direct"]))
            #expect(!result.succeeded && result.stderrText.contains("exec.prestart"))
            #expect(world.standIn.running("direct") == nil)
        }
    }
}
