import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// What a FreeBSD jail can reach, packet by packet: the real driver deploys real releases on the
/// stand-in, the agent's own rules are loaded into its pf, and the stand-in sends each packet
/// across the interfaces FreeBSD would (epair and bridge for VNET jails, lo1 twice for alias
/// jails) under pf's first-match/quick/state rules (Support/FreeBSDStandIn+Net.swift, StandInPF).
@Suite(.serialized, .enabled(if: canStandIn, "needs root, python3, go and setpriv"))
struct FreeBSDIsolationTests {
    static let api = freePort()

    /// hello and a second app, `api`: hello reaches api and the host's port 5432 (`reach`), api
    /// reaches nothing; this host also runs a database on *:5432 and syslogd on *:514/udp.
    static func withTwoApps(
        networkMode: JailNetworkMode = .vnet, _ body: (FreeBSDWorld, Release, Release) async throws -> Void
    ) async throws {
        let repo = try await GitFixture()
        try await repo.commitHello("api")
        var apiTable = TestAgentConf.App("api", repo: repo.fileURL)
        apiTable.port = api
        apiTable.healthDeadline = "20s"
        apiTable.probation = "1s"
        try await FreeBSDWorld.with(
            appExtra: "reach = [\"app:api\", \"host:5432\"]", networkMode: networkMode, moreApps: [apiTable]
        ) { world in
            world.standIn.lock.withLock {
                world.standIn.hostListeners += [(nil, 5432, "tcp"), (nil, 514, "udp")]  // a database, syslogd
            }
            let apiApp = try #require(world.runtime.config.app("api"))
            let api = try await world.deployer.deploy(apiApp).release
            let hello = try await world.deployed("hello")
            try await body(world, hello, api)
        }
    }

    @Test func aJailReachesWhatReachOpensAndNothingElseOfTheHostOrTheOtherJails() async throws {
        try await Self.withTwoApps { world, hello, api in
            let standIn = world.standIn
            let gateway = IPv4Network(standIn.network)?.host(1) ?? ""
            let (h, a) = (try #require(hello.address), try #require(api.address))
            func from(_ release: Release, _ address: String, _ port: Int, _ proto: String = "tcp") -> FreeBSDStandIn.Reach {
                standIn.connect(from: .jail(release.name), to: address, port: port, proto: proto)
            }
            // Caddy and the health check (this host) reach both apps.
            #expect(standIn.connect(from: .host, to: h, port: world.port) == .connected(.jail(hello.name)))
            #expect(standIn.connect(from: .host, to: a, port: Self.api) == .connected(.jail(api.name)))
            // reach = ["app:api", "host:5432"] opens exactly those.
            #expect(from(hello, a, Self.api) == .connected(.jail(api.name)))
            #expect(from(hello, gateway, 5432) == .connected(.host))
            #expect(!from(api, h, world.port).isConnected, "api opened nothing: \(from(api, h, world.port))")
            #expect(!from(api, gateway, 5432).isConnected)
            // The host's own services: sshd on *:22, by the gateway or the egress address.
            for target in [gateway, FreeBSDStandIn.egress.address] {
                let sshd = from(hello, target, 22)
                #expect(!sshd.isConnected, "\(target):22 \(sshd)")
            }
            // Broadcast reaches a host's wildcard UDP sockets (syslogd on *:514).
            #expect(!from(hello, "255.255.255.255", 514, "udp").isConnected)
            // DNS on the gateway, and the outside.
            #expect(from(hello, gateway, 53, "udp") == .connected(.host))
            #expect(from(hello, gateway, 53, "tcp") == .connected(.host))
            #expect(from(hello, "198.51.100.7", 443) == .connected(.outside))
            // A jail's root can give its epair any address: another jail's is refused.
            let spoofed = standIn.connect(from: .jail(api.name), to: gateway, port: 5432, spoofing: h)
            #expect(!spoofed.isConnected, "\(spoofed)")
            // doctor sees all it depends on.
            let checks = await Doctor(runtime: world.runtime).checks()
            for name in ["pf loaded", "bridge filtering", "pf on the jails", "pf policy", "pf anchor", "bridge", "forwarding"] {
                #expect(
                    checks.first { $0.name == name }?.ok == true, "\(name): \(checks.first { $0.name == name }?.text ?? "none")")
            }
            #expect(await (try world.host).enforcementGaps().isEmpty)

            // if_bridge with pfil_local_phys=0 runs no member filter for what is bound to this host:
            // doctor says so, and the rules on the bridge itself still keep the host closed.
            try FileIO.replace("\(standIn.hostDir)/sysctl/net.link.bridge.pfil_local_phys", text: "0\n")
            #expect(!from(hello, gateway, 22).isConnected)
            #expect(from(hello, gateway, 5432) == .connected(.host))
            let filter = await Doctor(runtime: world.runtime).checks().first { $0.name == "bridge filtering" }
            #expect(filter?.ok == false && filter?.degrades == "network policy")
        }
    }

    /// The seed's lo1 aliases, kept as an option: nothing isolates such jails, and nothing claims to.
    @Test func aliasJailsAreReportedAsNotIsolated() async throws {
        try await Self.withTwoApps(networkMode: .alias) { world, hello, api in
            let standIn = world.standIn
            let h = try #require(hello.address)
            #expect(standIn.connect(from: .host, to: h, port: world.port) == .connected(.jail(hello.name)))
            #expect(standIn.connect(from: .jail(api.name), to: h, port: world.port).isConnected, "no rule can stop it")
            #expect(
                standIn.connect(from: .jail(hello.name), to: h, port: 22) == .connected(.host), "its own address is the host's")
            let rules = standIn.lock.withLock { standIn.pfRulesets["jailpilot/jails"] } ?? []
            #expect(rules.isEmpty, "no rule that cannot hold is written: \(rules)")
            let isolation = await Doctor(runtime: world.runtime).checks().first { $0.name == "isolation" }
            #expect(isolation?.ok == false && isolation?.degrades == "network policy")
            #expect(isolation?.fix?.contains("network_mode = \"vnet\"") == true)
            let gaps = await (try world.host).enforcementGaps().compactMap(\.gap)
            #expect(gaps.contains { $0.hasPrefix("network policy not enforced: network_mode = \"alias\"") }, "\(gaps)")
        }
    }

    /// What versions before the VNET change wrote: every rule `on lo0`, which a jail's traffic
    /// never crosses (it goes out and in on lo1). Loaded into the stand-in's pf as they were.
    @Test func theLo0RulesOfEarlierVersionsFilteredNothing() async throws {
        try await Self.withTwoApps(networkMode: .alias) { world, hello, api in
            let standIn = world.standIn
            let (h, a) = (try #require(hello.address), try #require(api.address))
            let network = standIn.network
            let gateway = IPv4Network(network)?.host(1) ?? ""
            let old = """
                pass in quick on lo0 from \(gateway) to \(network)
                pass in quick on lo0 proto tcp from \(a) to \(a) port \(Self.api)  # api: the host to its jail
                pass in quick on lo0 proto tcp from \(h) to \(h) port \(world.port)  # hello: the host to its jail
                pass in quick on lo0 proto tcp from \(h) to \(a) port \(Self.api)  # hello reach app:api
                pass in quick on lo0 proto { tcp, udp } from \(network) to \(gateway) port 53  # DNS (local_unbound)
                block return in quick on lo0 from \(network) to (self)

                """
            try FileIO.replace(standIn.paths.pfJails, text: old)
            #expect(try standIn.pfctl(["-a", "jailpilot/jails", "-f", standIn.paths.pfJails]).succeeded)
            #expect(standIn.evaluatedAnchors.contains("jailpilot/jails"), "loaded and evaluated")
            #expect(standIn.connect(from: .jail(api.name), to: h, port: world.port).isConnected, "api was meant to be blocked")
            #expect(standIn.connect(from: .jail(hello.name), to: gateway, port: 22) == .connected(.host))
        }
    }

    @Test func withoutTheBridgeADeployFailsSayingHowToMakeIt() async throws {
        try await FreeBSDWorld.with { world in
            world.standIn.removeInterface("jailpilot0")
            let error = await #expect(throws: (any Error).self) { try await world.deployed("one") }
            let text = "\(error.map { "\($0)" } ?? "")"
            #expect(text.contains("no bridge jailpilot0") && text.contains("bootstrap-freebsd-host"), "\(text)")
            let live = try world.runtime.store.live(app: "hello")
            #expect(live == nil)
            let bridge = await Doctor(runtime: world.runtime).checks().first { $0.name == "bridge" }
            #expect(bridge?.ok == false && bridge?.fix?.contains("bootstrap-freebsd-host") == true)
        }
    }

    /// An operator's own jail in /etc/jail.conf.d with jail_list empty (rc.d/jail's `_ALL`): the
    /// agent's deploys and its start leave what boots exactly as it was.
    @Test func anOperatorsOwnJailsBootAsBefore() async throws {
        try await FreeBSDWorld.with { world in
            let root = world.standIn.root
            let web = "# the operator's\nweb {\n    path = \"/usr/local/jails/containers/web\";\n    persist;\n}\n"
            try FileIO.replace("\(root)/etc/jail.conf.d/web.conf", text: web)
            try FileIO.replace("\(root)/etc/jail.conf", text: ".include \"/etc/jail.conf.d/*.conf\";\n")
            let rc = try String(contentsOfFile: "\(root)/etc/rc.conf", encoding: .utf8)
            _ = try await world.deployed("one")
            let agent = try Agent(configPath: world.configPath, runner: world.standIn, freebsdPaths: world.standIn.paths)
            let running = Task { await agent.run() }
            try await Task.sleep(for: .seconds(2))
            await agent.stop()
            await running.value
            _ = try await world.deployed("two")
            #expect(world.bootVisible() == ["web"])
            #expect(try String(contentsOfFile: "\(root)/etc/jail.conf.d/web.conf", encoding: .utf8) == web)
            #expect(
                try String(contentsOfFile: "\(root)/etc/jail.conf", encoding: .utf8) == ".include \"/etc/jail.conf.d/*.conf\";\n")
            #expect(try String(contentsOfFile: "\(root)/etc/rc.conf", encoding: .utf8) == rc)
        }
    }
}
