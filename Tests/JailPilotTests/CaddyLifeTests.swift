import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// Caddy has a life of its own: it is restarted by its service, reloaded by an operator with
/// their own Caddyfile. The running agent puts jailpilot's routes back within 2 s, logged once
/// (root, like the deploy tests).
@Suite(.serialized, .enabled(if: canDeploy, "needs root, caddy, go, btrfs-progs and iproute2"))
struct CaddyLifeTests {
    func log(_ world: E2EWorld) -> String {
        (try? String(contentsOfFile: "\(world.state.path)/agent.log", encoding: .utf8)) ?? ""
    }

    func get(_ port: Int, host: String) async -> String {
        let response = try? await HTTPClient(timeout: .seconds(2)).send(
            "GET", "/", to: .tcp(host: "127.0.0.1", port: port), host: host)
        guard let response else { return "<no response>" }
        return response.status == 200 ? response.text : "<\(response.status)>"
    }

    @Test func caddyRestartedWithAnEmptyConfigServesTheAppsAgainWithin2s() async throws {
        try await E2EWorld.with { world in
            let v1 = try await world.repo.commitHello("back again")
            let agent = try Agent(configPath: world.configPath)
            let running = Task { await agent.run() }
            try await world.expectLive(v1)
            #expect(await eventually(.seconds(5)) { await world.fetch() == "back again" })

            try await E2EHost.shared.startCaddy(samePorts: true)  // `service caddy restart`
            #expect(await eventually(.seconds(2)) { await world.fetch() == "back again" }, "not served within 2 s")
            #expect(await eventually(.seconds(2)) { log(world).contains("event=routes.restored") })
            try await Task.sleep(for: .seconds(2))
            #expect(log(world).components(separatedBy: "event=routes.restored").count == 2, "logged once")
            await agent.stop()
            await running.value
        }
    }

    @Test func anOperatorsCaddyfileSiteAndTheAppsBothSurviveItsReload() async throws {
        try await E2EWorld.with { world in
            let ops = try await OperatorCaddy(world, importsSnippet: false)
            defer { ops.caddy.terminate() }
            let v1 = try await world.repo.commitHello("app site")
            let agent = try Agent(configPath: world.configPath)
            let running = Task { await agent.run() }
            try await world.expectLive(v1)
            #expect(await eventually(.seconds(5)) { await get(ops.front, host: "hello.localhost") == "app site" })
            #expect(await get(ops.front, host: "other.localhost") == "other site")

            try await ops.reload()  // `service caddy reload`
            #expect(
                await eventually(.seconds(2)) { await get(ops.front, host: "hello.localhost") == "app site" },
                "not served within 2 s")
            #expect(await get(ops.front, host: "other.localhost") == "other site")
            #expect(log(world).contains("event=routes.restored"))
            await agent.stop()
            await running.value
        }
    }

    /// A deleted routes file gave 503s for good; the agent now rewrites it from the store.
    @Test func aDeletedOrStaleRoutesFileIsRebuiltWithin2s() async throws {
        try await E2EWorld.with { world in
            let v1 = try await world.repo.commitHello("routed")
            let agent = try Agent(configPath: world.configPath)
            let running = Task { await agent.run() }
            try await world.expectLive(v1)
            let live = try #require(try world.runtime.store.live(app: "hello"))
            let path = RouteTable.path(stateDir: world.state.path)

            unlink(path)
            #expect(
                await eventually(.seconds(2)) { RouteTable.load(stateDir: world.state.path).addresses["hello"] == live.address })
            #expect(await eventually(.seconds(2)) { await world.fetch() == "routed" })

            try FileIO.replace(path, text: "hello 172.31.253.250\n")  // stale: the store says otherwise
            #expect(
                await eventually(.seconds(2)) { RouteTable.load(stateDir: world.state.path).addresses["hello"] == live.address })
            #expect(log(world).contains("event=routes.repaired"))

            // The store changed by another process's connection, the file untouched: the agent,
            // which skips the comparison while neither changes, still sees it.
            let other = try StateStore(stateDir: world.state.path)
            let ghost = try other.seedRelease(
                app: "ghost", sha: String(repeating: "e", count: 40), state: .live, address: "172.31.253.249")
            #expect(
                await eventually(.seconds(2)) {
                    RouteTable.load(stateDir: world.state.path).addresses["ghost"] == "172.31.253.249"
                })
            try other.update(ghost, state: .destroyed)
            #expect(await eventually(.seconds(2)) { RouteTable.load(stateDir: world.state.path).addresses["ghost"] == nil })
            #expect(RouteTable.load(stateDir: world.state.path).addresses["hello"] == live.address)
            await agent.stop()
            await running.value
        }
    }
}

extension CaddyLifeTests {
    /// `status` once said `health: ok` while traffic went elsewhere: it now asks the resolver.
    @Test func statusSaysWhereTrafficActuallyGoes() async throws {
        try await E2EWorld.with { world in
            _ = try await world.repo.commitHello("status")
            let live = try await world.deployer.deploy(world.app).release
            let resolver = "127.0.0.1:\(world.resolverPort)"
            let good = try await AppStatus.collect(world.app, store: world.runtime.store, resolver: resolver)
            #expect(good.routed == live.address)
            #expect(good.text.contains("routed    to the live release"))

            try RouteTable(addresses: ["hello": "172.31.253.250"]).save(stateDir: world.state.path)  // no agent to repair it
            let stale = try await AppStatus.collect(world.app, store: world.runtime.store, resolver: resolver)
            #expect(stale.routed == "172.31.253.250")
            #expect(stale.text.contains("NOT the live release"), "\(stale.text)")

            let silent = try await AppStatus.collect(world.app, store: world.runtime.store, resolver: "127.0.0.1:\(freePort())")
            #expect(silent.routed?.contains("no answer from the resolver") == true)
            #expect(silent.text.contains("NOT the live release"))
            try RouteTable.rebuild(from: world.runtime.store, stateDir: world.state.path)
        }
    }
}

extension CaddyLifeTests {
    /// With `[caddy] caddyfile` imported by the operator's Caddyfile, a reload keeps the apps:
    /// no gap, and nothing for the agent to restore.
    @Test func anOperatorsCaddyfileThatImportsJailpilotsRoutesReloadsWithNoGap() async throws {
        try await E2EWorld.with { world in
            let ops = try await OperatorCaddy(world, importsSnippet: true)
            defer { ops.caddy.terminate() }
            let v1 = try await world.repo.commitHello("imported")
            let agent = try Agent(configPath: world.configPath)
            let running = Task { await agent.run() }
            try await world.expectLive(v1)
            #expect(await eventually(.seconds(5)) { await get(ops.front, host: "hello.localhost") == "imported" })
            #expect(FileManager.default.fileExists(atPath: ops.snippet))

            try await ops.reload()
            #expect(await get(ops.front, host: "hello.localhost") == "imported", "a gap right after the reload")
            #expect(await get(ops.front, host: "other.localhost") == "other site")
            try await Task.sleep(for: .seconds(2))
            #expect(!log(world).contains("event=routes.restored"), "the imported routes should have satisfied the probe")
            let later = await get(ops.front, host: "hello.localhost")
            #expect(later == "imported", "\(later); \(log(world).suffix(1500))")
            await agent.stop()
            await running.value
        }
    }

    /// The snippet is valid Caddyfile for the Caddy under test, for HTTPS and plain HTTP listeners.
    @Test(.enabled(if: have(caddyBinary), "needs caddy"))
    func caddyfileSnippetAdapts() async throws {
        let scratch = try Scratch("adapt")
        for caddy in [
            TestAgentConf.Caddy(listen: [":443"]),
            TestAgentConf.Caddy(listen: ["127.0.0.1:8080", ":8081"], automaticHTTPS: false),
        ] {
            var conf = TestAgentConf.hello(stateDir: scratch.path, repo: "https://example.org/x.git")
            conf.caddy = caddy
            let config = try conf.config()
            let text = CaddyRouter(settings: config.caddy).caddyfile(for: config.apps)
            let file = try scratch.write("snippet.caddyfile", text)
            let adapted = try await sh([caddyBinary, "adapt", "--config", file, "--adapter", "caddyfile"])
            #expect(adapted.contains("hello.jailpilot.internal."), "\(text)")
            #expect(adapted.contains("jailpilot "), "the probe's digest")
        }
    }
}

/// An operator's own Caddy, run from a Caddyfile that serves `other.localhost` on a port the
/// world's agent is then told to share (its agent.conf is rewritten to drive this Caddy).
struct OperatorCaddy {
    let admin = freePort()
    let front = freePort()
    let scratch: Scratch
    let caddyfile: String
    let snippet: String
    let environment: [String: String]
    let caddy: BackgroundProcess

    init(_ world: E2EWorld, importsSnippet: Bool) async throws {
        scratch = try Scratch("operator")
        snippet = "\(scratch.path)/jailpilot.caddyfile"
        caddyfile = try scratch.write(
            "Caddyfile",
            """
            {
            \tadmin 127.0.0.1:\(admin)
            \tauto_https off
            }
            http://other.localhost:\(front) {
            \tbind 127.0.0.1
            \trespond "other site"
            }
            \(importsSnippet ? "import \(scratch.path)/jailpilot*.caddyfile" : "")

            """)
        environment = ProcessInfo.processInfo.environment.merging([
            "HOME": scratch.path, "XDG_DATA_HOME": scratch.path, "XDG_CONFIG_HOME": scratch.path,
        ]) { $1 }
        caddy = try BackgroundProcess(
            Command(caddyBinary, ["run", "--config", caddyfile, "--adapter", "caddyfile"], environment: environment),
            log: "\(scratch.path)/caddy.log")
        let front = self.front
        _ = await eventually(.seconds(10)) { await Self.answers(front) }
        var conf = world.conf
        conf.caddy.admin = "http://127.0.0.1:\(admin)"
        conf.caddy.listen = ["127.0.0.1:\(front)"]
        if importsSnippet { conf.caddy.caddyfile = snippet }
        try FileIO.replace(world.configPath, text: conf.text)
    }

    static func answers(_ port: Int) async -> Bool {
        let response = try? await HTTPClient(timeout: .seconds(2)).send(
            "GET", "/", to: .tcp(host: "127.0.0.1", port: port), host: "other.localhost")
        return response?.text == "other site"
    }

    /// `caddy reload` of the operator's Caddyfile, as `service caddy reload` does.
    func reload() async throws {
        try await sh(
            [caddyBinary, "reload", "--config", caddyfile, "--adapter", "caddyfile", "--address", "127.0.0.1:\(admin)"],
            env: environment)
    }
}

/// Concurrent writers of the route table (two apps flipping at once) never lose each other's entry.
@Suite struct RouteTableTests {
    @Test func concurrentCommitsAlwaysEndAsTheStoreSays() async throws {
        let state = try Scratch("routes")
        let store = try StateStore(stateDir: state.path)
        let apps = (0..<8).map { "app\($0)" }
        await withTaskGroup(of: Void.self) { group in
            for (n, app) in apps.enumerated() {
                group.addTask {
                    for round in 0..<10 {
                        _ = try? RouteTable.commit(store: store, stateDir: state.path) {
                            let release = try store.seedRelease(
                                app: app, sha: String(repeating: "a", count: 40), state: .healthy,
                                address: "10.0.\(n).\(round + 1)")
                            let old = try store.live(app: app)
                            return try store.flip(to: release, from: old)
                        }
                    }
                }
            }
        }
        let table = RouteTable.load(stateDir: state.path)
        #expect(table == (try RouteTable.derived(from: store)))
        #expect(table.addresses.count == 8)
        #expect(apps.allSatisfy { table.addresses[$0]?.hasSuffix(".10") == true })
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: state.path).filter { $0.contains(".tmp.") }
        #expect(leftovers.isEmpty)
    }
}

/// What jailpilot asks of Caddy's upstream transport.
@Suite struct CaddyTransportTests {
    /// Giving `keep_alive` at all drops Caddy's defaults: without max_idle_conns_per_host, Go kept
    /// 2 idle connections per app, and under load (bench-live) the rest closed into TIME_WAIT
    /// until connects failed with "cannot assign requested address" (502s).
    @Test func upstreamConnectionsStayPooledAndCloseWhenIdle() throws {
        let scratch = try Scratch("transport")
        let config = try TestAgentConf.hello(stateDir: scratch.path, repo: "https://example.org/x.git").config()
        let servers = CaddyRouter(settings: config.caddy).merged([:], apps: config.apps)
        let text = String(decoding: try JSONValue.object(servers).encoded(), as: UTF8.self)
        #expect(text.contains("\"max_idle_conns_per_host\":32"), "\(text)")
        #expect(text.contains("\"idle_timeout\":2000000000"))
        let snippet = CaddyRouter(settings: config.caddy).caddyfile(for: config.apps)
        #expect(snippet.contains("keepalive_idle_conns_per_host 32"))
    }
}
