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
    /// The apps, network and extra lines agent.conf was made with (an agent's gets the same).
    let conf: (apps: [(String, String)], network: String, extra: String)

    /// `apps` maps each app's name to extra lines of its `[apps.NAME]` table.
    /// `extra` is appended to agent.conf (tables such as `[[agent.notify]]`).
    public init(apps: [(String, String)] = [("hello", "")], network: String = "10.99.0.0/24", extra: String = "") throws {
        // No shared parent directory: one made by another user (root) would refuse this one.
        root = "/tmp/jailpilot-memory-\(UInt64.random(in: 0...UInt64.max))"
        try FileIO.makeDirectories("\(root)/state")
        let config = try ConfigLoader.parse(
            Self.configText(root: root, apps: apps, network: network) + extra, file: "\(root)/agent.conf")
        clock = VirtualClock()
        runtime = try Runtime(config: config, echo: false, clock: clock)
        recorder = StepRecorder()
        host = MemoryHost(owner: try OwnerID.load(stateDir: config.agent.stateDir), recorder: recorder, clock: clock)
        router = MemoryRouter()
        source = FakeSource(layout: runtime.layout)
        health = FakeHealth(host: host)
        conf = (apps, network, extra)
    }

    private init(
        _ world: MemoryWorld, root: String? = nil, runtime: Runtime, apps: [(String, String)], network: String
    ) {
        self.root = root ?? world.root
        conf = (apps, network, "")
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
        let config = try ConfigLoader.parse(Self.configText(root: root, apps: apps, network: network), file: "\(root)/agent.conf")
        return MemoryWorld(
            self, runtime: try Runtime(config: config, echo: false, clock: clock), apps: apps, network: network)
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
        let config = try ConfigLoader.parse(
            Self.configText(root: root, apps: apps, network: network), file: "\(root)/agent.conf")
        return MemoryWorld(
            self, root: root, runtime: try Runtime(config: config, echo: false, clock: clock), apps: apps, network: network)
    }

    /// `agent` and `caddy` are extra lines of those tables.
    static func configText(
        root: String, apps: [(String, String)], network: String, agent: String = "", caddy: String = ""
    ) -> String {
        var text = """
            [agent]
            platform = "linux"
            state_dir = "\(root)/state"
            \(agent)
            [jails]
            mountpoint = "\(root)/jails"
            network = "\(network)"
            [caddy]
            probe = ""
            refresh = "50ms"
            \(caddy)

            """
        for (name, extra) in apps {
            text += """
                [apps.\(name)]
                repo = "https://forge.example/\(name).git"
                hostnames = ["\(name).localhost"]
                \(extra)

                """
        }
        return text
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
        try FileIO.replace(
            path,
            text: Self.configText(
                root: root, apps: conf.apps, network: conf.network, agent: "log_file = \"\(agentLog)\"\n\(settings)",
                caddy: "resolver = \"\(resolver)\"") + conf.extra)
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
