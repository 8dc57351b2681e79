import Foundation
import JailPilot
import JailPilotTesting

/// One app deployed by the real Deployer through the FreeBSD driver, on the FreeBSD stand-in
/// (Support/FreeBSDStandIn.swift): real git, real go build, real state store and health gate;
/// jail addresses on 127.77.N.0/24 (Linux routes all of 127/8 to lo, as lo1 serves the jails).
/// No proxy: these tests look at the jails, the boot list and the store.
struct FreeBSDWorld {
    let scratch: Scratch
    let standIn: FreeBSDStandIn
    let repo: GitFixture
    let runtime: Runtime
    let port: Int
    let configPath: String
    /// The agent.conf written to `configPath`.
    let conf: TestAgentConf

    init(
        appExtra: String = "", stage: FreeBSDStandIn.HostStage = .ready, networkMode: JailNetworkMode = .vnet,
        moreApps: [TestAgentConf.App] = [], tune: (inout TestAgentConf) -> Void = { _ in }
    ) async throws {
        scratch = try Scratch("freebsd")
        standIn = try FreeBSDStandIn(
            root: "\(scratch.path)/host", network: "127.77.\(Int.random(in: 1...250)).0/24", stage: stage,
            networkMode: networkMode)
        repo = try await GitFixture()
        port = freePort()
        let state = "\(scratch.path)/state"
        var conf = TestAgentConf(platform: "freebsd", stateDir: state)
        conf.logFile = "\(state)/agent.log"
        conf.pollInterval = "200ms"
        conf.jails = standIn.jailSettings
        conf.caddy = TestAgentConf.Caddy(
            admin: "http://127.0.0.1:\(freePort())", listen: ["127.0.0.1:\(freePort())"], automaticHTTPS: false,
            resolver: "127.0.0.1:\(freePort())", probe: "")
        var hello = TestAgentConf.App("hello", repo: repo.fileURL, lines: appExtra)
        hello.port = port
        hello.healthDeadline = "20s"
        hello.probation = "1s"
        conf.apps = [hello] + moreApps
        tune(&conf)
        self.conf = conf
        try FileIO.makeDirectories(state)
        configPath = "\(state)/agent.conf"
        try FileIO.replace(configPath, text: conf.text)
        runtime = try Runtime(
            config: try conf.parsed(file: configPath), echo: false, runner: standIn, freebsdPaths: standIn.paths)
    }

    var app: AppConfig { runtime.config.app("hello")! }
    var host: FreeBSDJails {
        get throws {
            var host = try runtime.jailHost() as! FreeBSDJails
            host.retryPause = .milliseconds(20)
            return host
        }
    }
    var deployer: Deployer { get throws { Deployer(runtime: runtime, host: try host, router: NoProxy()) } }

    /// Commits the hello app saying `greeting` and deploys it: the live release.
    func deployed(_ greeting: String) async throws -> Release {
        try await repo.commitHello(greeting)
        return try await deployer.deploy(app).release
    }

    /// The jail spec of one of this world's releases.
    func spec(_ release: Release) -> JailSpec { JailSpec(release: release, app: app, layout: runtime.layout) }

    /// GET / from a release's jail address.
    func fetch(_ release: Release, _ path: String = "/") async -> String {
        guard let address = release.address,
            let response = try? await HTTPClient(timeout: .seconds(3)).send(
                "GET", path, to: .tcp(host: address, port: port), host: "hello.localhost")
        else { return "<no response>" }
        return response.status == 200 ? response.text : "<\(response.status)>"
    }

    /// The jails rc.d/jail would start at boot from this host's /etc: the files in
    /// /etc/jail.conf.d and the names `jail_list` gets from /etc/rc.conf.d/jail/.
    func bootVisible() -> [String] {
        let root = standIn.root
        let confs = ((try? FileManager.default.contentsOfDirectory(atPath: "\(root)/etc/jail.conf.d")) ?? [])
            .filter { $0.hasSuffix(".conf") }.map { String($0.dropLast(5)) }
        let lists = ((try? FileManager.default.contentsOfDirectory(atPath: "\(root)/etc/rc.conf.d/jail")) ?? []).flatMap {
            file -> [String] in
            let text = (try? String(contentsOfFile: "\(root)/etc/rc.conf.d/jail/\(file)", encoding: .utf8)) ?? ""
            return text.split(separator: "\n").filter { $0.hasPrefix("jail_list=") }.flatMap {
                $0.split(separator: "\"").dropFirst().first?.split(separator: " ").map(String.init) ?? []
            }.filter { !$0.hasPrefix("$") }
        }
        return (confs + lists).sorted()
    }

    /// Stops every jail the world left running (their services are real processes).
    func tearDown() async {
        if let deployer = try? deployer { _ = try? await deployer.remove(app) }
        for (name, jail) in standIn.lock.withLock({ standIn.jails }) {
            _ = try? await standIn.run(
                Command("jail", ["-f", "\(runtime.config.agent.stateDir)/jail.conf.d/\(name).conf", "-r", name]))
            for pid in standIn.processes(under: jail.path) { kill(pid, SIGKILL) }
        }
    }

    static func with(
        appExtra: String = "", stage: FreeBSDStandIn.HostStage = .ready, networkMode: JailNetworkMode = .vnet,
        moreApps: [TestAgentConf.App] = [], tune: (inout TestAgentConf) -> Void = { _ in },
        _ body: (FreeBSDWorld) async throws -> Void
    ) async throws {
        let world = try await FreeBSDWorld(
            appExtra: appExtra, stage: stage, networkMode: networkMode, moreApps: moreApps, tune: tune)
        let outcome = await Result { try await body(world) }
        await world.tearDown()
        try outcome.get()
    }
}

/// A router for tests that look past the proxy; it changes nothing.
struct NoProxy: Router {
    func applyRoutes(for apps: [AppConfig]) async throws -> Bool { false }
    func routesPresent(for apps: [AppConfig]) async -> Bool? { nil }
    func writeCaddyfile(for apps: [AppConfig]) throws -> Bool { false }
}

/// Whether the FreeBSD stand-in can run services and build jails: root (daemon -u nobody), python3, go, bwrap.
let canStandIn = isRoot && have("python3") && have("go") && have("setpriv") && have("bwrap")
