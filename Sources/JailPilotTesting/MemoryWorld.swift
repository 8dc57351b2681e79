import FoundationEssentials
import JailPilot

/// A whole release engine on in-memory drivers: a real config, state store, event log and
/// Deployer over a MemoryHost, MemoryRouter, FakeSource, FakeHealth and a VirtualClock. Needs no
/// root, no network, no git and no Go; a deploy takes about a millisecond.
public struct MemoryWorld: Sendable {
    public let root: String
    public let runtime: Runtime
    public let host: MemoryHost
    public let router: MemoryRouter
    public let source: FakeSource
    public let health: FakeHealth
    public let clock: VirtualClock
    public let recorder: StepRecorder
    /// The agent.conf this world's runtime read.
    public let conf: TestAgentConf

    /// `apps` maps each app's name to extra lines of its `[apps.NAME]` table.
    /// `extra` is appended to agent.conf (tables such as `[[agent.notify]]`); `tune` changes
    /// whatever else the test needs of it.
    public init(
        apps: [(String, String)] = [("hello", "")], network: String = "10.99.0.0/24", extra: String = "",
        tune: (inout TestAgentConf) -> Void = { _ in }
    ) throws {
        // No shared parent directory: one made by another user (root) would refuse this one.
        root = "/tmp/jailpilot-memory-\(UInt64.random(in: 0...UInt64.max))"
        try FileIO.makeDirectories("\(root)/state")
        var conf = Self.conf(root: root, apps: apps, network: network)
        conf.extra = extra
        tune(&conf)
        self.conf = conf
        let config = try conf.parsed(file: "\(root)/agent.conf")
        clock = VirtualClock()
        runtime = try Runtime(config: config, echo: false, clock: clock)
        recorder = StepRecorder()
        host = MemoryHost(owner: try OwnerID.load(stateDir: config.agent.stateDir), recorder: recorder, clock: clock)
        router = MemoryRouter()
        source = FakeSource(layout: runtime.layout)
        health = FakeHealth(host: host)
    }

    private init(_ world: MemoryWorld, root: String? = nil, conf: TestAgentConf, runtime: Runtime) {
        self.root = root ?? world.root
        self.conf = conf
        self.runtime = runtime
        host = world.host
        router = world.router
        source = world.source
        health = world.health
        clock = world.clock
        recorder = world.recorder
    }

    /// The same host, Caddy, remote and store as a fresh process sees them with another
    /// agent.conf: the agent restarted, or a CLI command run beside it.
    public func reopened(apps: [(String, String)], network: String = "10.99.0.0/24") throws -> MemoryWorld {
        try reopened(with: Self.conf(root: root, apps: apps, network: network))
    }

    /// The same host, Caddy, remote and store as a fresh process sees them with `conf` (this
    /// world's own unless given): the agent restarted, or a CLI command run beside it.
    public func reopened(with conf: TestAgentConf? = nil) throws -> MemoryWorld {
        let conf = conf ?? self.conf
        let config = try conf.parsed(file: "\(root)/agent.conf")
        return MemoryWorld(self, conf: conf, runtime: try Runtime(config: config, echo: false, clock: clock))
    }

    /// The same host, Caddy and remote with this state_dir's store put back from `backup`
    /// (StateStore.backup): a store restored from an older copy. Another root, the same owner.
    public func restored(from backup: String, apps: [(String, String)] = [("hello", "")], network: String = "10.99.0.0/24")
        throws -> MemoryWorld
    {
        let root = "/tmp/jailpilot-memory-\(UInt64.random(in: 0...UInt64.max))"
        try FileIO.makeDirectories("\(root)/state")
        try FileIO.replace("\(root)/state/owner", text: try FileIO.readText("\(runtime.config.agent.stateDir)/owner"))
        try FileManager.default.copyItem(atPath: backup, toPath: "\(root)/state/state.db")
        let conf = Self.conf(root: root, apps: apps, network: network)
        let config = try conf.parsed(file: "\(root)/agent.conf")
        return MemoryWorld(self, root: root, conf: conf, runtime: try Runtime(config: config, echo: false, clock: clock))
    }

    /// This world's agent.conf: `apps` as (name, extra lines of its table), jail addresses from `network`.
    public static func conf(root: String, apps: [(String, String)], network: String) -> TestAgentConf {
        var conf = TestAgentConf(
            stateDir: "\(root)/state",
            apps: apps.map { TestAgentConf.App($0.0, repo: "https://forge.example/\($0.0).git", lines: $0.1) })
        // Its events stay with it (the agent's default log is /var/log/jailpilot.log).
        conf.logFile = "\(root)/state/agent.log"
        conf.jails = TestAgentConf.Jails(mountpoint: "\(root)/jails", network: network)
        conf.caddy = TestAgentConf.Caddy(probe: "", refresh: "50ms")
        return conf
    }

    /// The deployer the agent would use, on this world's drivers.
    public var deployer: Deployer {
        var deployer = Deployer(runtime: runtime, host: host, router: router, source: source, health: health)
        deployer.recorder = recorder
        return deployer
    }

    /// Where an agent made by `agent(resolver:shutdownGrace:crash:settings:)` logs its events.
    public var agentLog: String { "\(root)/agent.log" }

    /// The agent `jailpilot run` would be on this world: its own runtime on this state_dir and
    /// clock, deploying through this world's host, Caddy, source and health, polling the heads
    /// pushed to `source`. It logs to `agentLog`; its route resolver answers on `resolver`
    /// (a free UDP address: another test's agent may be running).
    /// `crash` says what reaching a step of a deploy does (CrashAt: the agent dies there);
    /// `settings` are extra lines of its `[agent]` table.
    ///
    /// An agent that just stopped in this process may seem to hold the state_dir's lock a moment
    /// longer: a child another test is spawning holds a copy of every descriptor until it execs
    /// (see AppLock.patience). The lock is asked for again for that long, as AppLock does.
    public func agent(
        resolver: String, shutdownGrace: Duration = .seconds(30), crash: any CrashPoints = NoCrashPoints(),
        settings: String = ""
    ) async throws -> Agent {
        let deadline = ContinuousClock.now + AppLock.patience
        while true {
            do {
                return try makeAgent(resolver: resolver, shutdownGrace: shutdownGrace, crash: crash, settings: settings)
            } catch is AgentAlreadyRunning where ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
    }

    private func makeAgent(resolver: String, shutdownGrace: Duration, crash: any CrashPoints, settings: String) throws
        -> Agent
    {
        let path = "\(root)/agent.conf"
        var conf = conf
        conf.logFile = agentLog
        conf.agentLines += settings.isEmpty ? "" : settings + "\n"
        conf.caddy.resolver = resolver
        try FileIO.replace(path, text: conf.text)
        let (host, router, source, health, recorder) = (host, router, source, health, recorder)
        let seams = AgentSeams(clock: clock, crash: crash, heads: source) { runtime, slots in
            var deployer = Deployer(
                runtime: runtime, host: host, router: router, buildSlots: slots, source: source, health: health)
            deployer.recorder = recorder
            return deployer
        }
        return try Agent(configPath: path, shutdownGrace: shutdownGrace, seams: seams)
    }

    /// The app called `name` in this world's config.
    public func app(_ name: String = "hello") -> AppConfig { runtime.config.app(name)! }

    /// A 40-hex commit id made from `n` (distinct in its first 12 digits, as jail names are).
    public static func sha(_ n: Int) -> String {
        let hex = String(n, radix: 16)
        return String(repeating: "0", count: 12 - hex.count) + hex + String(repeating: "a", count: 28)
    }

    /// Pushes commit `n` and deploys it.
    @discardableResult
    public func push(_ n: Int, app: String = "hello") async throws -> DeployOutcome {
        source.push(Self.sha(n), app: app)
        return try await deployer.deploy(self.app(app), cause: "push")
    }

    /// Removes the world's files.
    public func tearDown() { try? FileIO.removeTree(root) }
}
