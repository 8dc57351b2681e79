import Foundation
import JailPilot
import JailPilotTesting
import Synchronization
import Testing

/// How a version of the app answers `GET /up`.
enum HealthAnswers: Sendable, Equatable {
    /// 200, always.
    case healthy
    /// 500, always: it never passes its health gate.
    case unhealthy
    /// 200 for its first `n` answers, then 500: it passes its gate and fails in probation.
    case failsAfter(Int)
}

/// Where a release's jail is, as its host has it.
enum JailPresence: Sendable, Equatable {
    case running, stopped, gone
}

/// One backend of the release scenarios (ScenarioTests): an app `hello`, its remote, a host, a
/// Caddy and a state store, driven through the real Deployer. What differs is what stands
/// behind them: memory and a virtual clock, the real Linux driver, or the FreeBSD driver on
/// its stand-in.
///
/// A scenario commits versions, deploys, rolls back, and then looks at what a user would:
/// which version answers, what the store says, which jails are left. Scenarios of an agent
/// killed at a step fit the same shape: a backend's way to run a deploy that dies at a step
/// joins these requirements, and `restarted()` is the process that converges afterwards.
protocol ScenarioWorld: Sendable {
    /// The runtime the agent runs with: its config, store and layout.
    var runtime: Runtime { get }
    /// The deployer the agent would use.
    var deployer: Deployer { get throws }
    /// The deployer of a fresh process on the same host, Caddy and store (the agent restarted,
    /// or a CLI command beside it).
    func restarted() throws -> Deployer
    /// A deployer whose Caddy admin API does not answer; the Caddy that serves keeps serving.
    func caddyUnreachable() throws -> Deployer
    /// Commits a version that answers `/` with `label` and `/up` as `health`; returns its SHA.
    @discardableResult
    func commit(_ label: String, health: HealthAnswers) async throws -> String
    /// The label of the version a request through Caddy gets now; nil when none answers.
    func serving() async -> String?
    /// Where the jail of `release` is.
    func jail(_ release: Release) async -> JailPresence
    /// The jails the host starts by itself at boot; nil on a host without a boot set (Linux,
    /// FreeBSD: live releases come back through the agent's recovery).
    func bootSet() async -> Set<String>?
    /// Whether releases write service logs that the deployer keeps when one fails.
    var keepsServiceLogs: Bool { get }
}

extension ScenarioWorld {
    var store: StateStore { runtime.store }
    var app: AppConfig { runtime.config.app("hello")! }

    /// The newest release of commit `sha`.
    func release(_ sha: String) throws -> Release? {
        try store.releases(app: "hello").filter { $0.sha == sha }.max { $0.id < $1.id }
    }

    /// Each commit's newest release state.
    func states() throws -> [String: ReleaseState] {
        var states: [String: ReleaseState] = [:]
        for release in try store.releases(app: "hello").sorted(by: { $0.id < $1.id }) { states[release.sha] = release.state }
        return states
    }

    /// The commits whose artifact state_dir still holds.
    func artifacts() -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: "\(runtime.layout.root)/artifacts/hello")) ?? [])
    }

    /// The files in the app's log directory.
    func logs() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: runtime.layout.logs("hello"))) ?? []).sorted()
    }

    /// The address the route table sends `hello` to.
    var routed: String? { RouteTable.load(stateDir: runtime.config.agent.stateDir).addresses["hello"] }
}

/// The backends the scenarios run on.
enum ScenarioBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// MemoryHost, MemoryRouter, FakeSource, FakeHealth and a VirtualClock: milliseconds a scenario.
    case memory
    /// Real git, go build, btrfs, network namespaces and Caddy (E2EWorld).
    case linux
    /// The FreeBSD driver on its stand-in (FreeBSDWorld): real git, go build in a build jail,
    /// services in jails on 127.77.N.0/24; no Caddy, so what serves is what the route table names.
    case freebsd

    var testDescription: String { rawValue }

    /// Why this backend cannot run here; nil when it can.
    var unavailable: String? {
        switch self {
        case .memory: nil
        case .linux: canDeploy ? nil : "needs root, caddy, go, btrfs-progs and iproute2"
        case .freebsd: canStandIn ? nil : "needs root, python3, go, setpriv and bwrap"
        }
    }

    /// Runs `body` in a fresh world of this backend, its agent.conf changed by `tune`, and
    /// tears the world down whatever happened; where the backend cannot run, the test case is
    /// cancelled (skipped) with the reason.
    func run(
        tune: (inout TestAgentConf) -> Void = { _ in }, _ body: (any ScenarioWorld) async throws -> Void
    ) async throws {
        if let unavailable { try Test.cancel("\(self) backend: \(unavailable)") }
        switch self {
        case .memory:
            let world = try MemoryWorld(tune: tune)
            defer { world.tearDown() }
            try await body(MemoryScenarioWorld(world))
        case .linux:
            try await E2EWorld.with(tune: tune) { try await body(LinuxScenarioWorld(world: $0)) }
        case .freebsd:
            try await FreeBSDWorld.with(tune: tune) { try await body(FreeBSDScenarioWorld(world: $0)) }
        }
    }
}

/// The memory world as a scenario backend: a version is a commit FakeSource builds and
/// FakeHealth answers for; it "serves" when the route table names a running jail of it and
/// the router has the app's routes.
final class MemoryScenarioWorld: ScenarioWorld {
    let world: MemoryWorld
    /// Commits so far, and each one's label.
    private let commits = Mutex<(count: Int, labels: [String: String])>((0, [:]))

    init(_ world: MemoryWorld) { self.world = world }

    var runtime: Runtime { world.runtime }
    var deployer: Deployer { world.deployer }
    func restarted() throws -> Deployer { try world.reopened().deployer }

    func caddyUnreachable() throws -> Deployer {
        let down = MemoryRouter()
        down.setDown(true)
        var deployer = Deployer(
            runtime: world.runtime, host: world.host, router: down, source: world.source, health: world.health,
            clock: world.clock)
        deployer.recorder = world.recorder
        return deployer
    }

    func commit(_ label: String, health: HealthAnswers) async throws -> String {
        let sha = commits.withLock { commits in
            commits.count += 1
            let sha = MemoryWorld.sha(commits.count)
            commits.labels[sha] = label
            return sha
        }
        switch health {
        case .healthy: world.health.set(sha, .healthy)
        case .unhealthy: world.health.set(sha, .never)
        case .failsAfter(let n): world.health.set(sha, .failsAfter(n))
        }
        world.source.push(sha, app: "hello")
        return sha
    }

    func serving() async -> String? {
        // A request takes a moment: the deploy it may race gets its turn.
        await Task.yield()
        guard world.router.routedApps.contains("hello"), let address = routed,
            let jail = world.host.jails.values.first(where: {
                $0.running && $0.spec.app == "hello" && $0.spec.address == address
            })
        else { return nil }
        return commits.withLock { $0.labels[jail.spec.sha] }
    }

    func jail(_ release: Release) async -> JailPresence {
        guard let jail = world.host.jails[release.name] else { return .gone }
        return jail.running ? .running : .stopped
    }

    func bootSet() async -> Set<String>? { world.host.bootSet }
    var keepsServiceLogs: Bool { false }
}

/// The Linux end-to-end world as a scenario backend: a version is a commit of the hello app
/// saying its label, built by go, run in a btrfs jail with its own network namespace and
/// reached through Caddy.
struct LinuxScenarioWorld: ScenarioWorld {
    let world: E2EWorld

    var runtime: Runtime { world.runtime }
    var deployer: Deployer { get throws { try world.deployer } }
    func restarted() throws -> Deployer { try Runtime(config: world.runtime.config, echo: false).deployer() }

    func caddyUnreachable() throws -> Deployer {
        var conf = world.conf
        conf.caddy.admin = "http://127.0.0.1:\(freePort())"
        return try Runtime(config: try conf.parsed(file: "unreachable.conf"), echo: false).deployer()
    }

    func commit(_ label: String, health: HealthAnswers) async throws -> String {
        try await world.repo.commitHello(label, answering: health)
    }

    func serving() async -> String? {
        let body = await world.fetch()
        return body.hasPrefix("<") ? nil : body
    }

    func jail(_ release: Release) async -> JailPresence {
        // A running jail has its network namespace; a stopped one only its filesystem.
        if FileIO.exists("/run/netns/\(release.name)") { return .running }
        return FileIO.exists("\(E2EHost.mountpoint)/containers/\(release.name)") ? .stopped : .gone
    }

    func bootSet() async -> Set<String>? { nil }
    var keepsServiceLogs: Bool { true }
}

/// The FreeBSD stand-in as a scenario backend: a version is a commit of the hello app saying its
/// label, built in a build jail and run in a jail of the stand-in. It has no Caddy: a request
/// goes to the address the route table names, as Caddy's lookup would.
struct FreeBSDScenarioWorld: ScenarioWorld {
    let world: FreeBSDWorld

    var runtime: Runtime { world.runtime }
    var deployer: Deployer { get throws { try world.deployer } }

    func restarted() throws -> Deployer {
        let runtime = try Runtime(
            config: world.runtime.config, echo: false, runner: world.standIn, freebsdPaths: world.standIn.paths)
        var host = try #require(try runtime.jailHost() as? FreeBSDJails)
        host.retryPause = .milliseconds(20)
        return Deployer(runtime: runtime, host: host, router: NoProxy())
    }

    func caddyUnreachable() throws -> Deployer {
        // The world's [caddy] admin is a port nothing listens on.
        Deployer(runtime: world.runtime, host: try world.host, router: world.runtime.router())
    }

    func commit(_ label: String, health: HealthAnswers) async throws -> String {
        try await world.repo.commitHello(label, answering: health)
    }

    func serving() async -> String? {
        guard let address = routed,
            let response = try? await HTTPClient(timeout: .seconds(3)).send(
                "GET", "/", to: .tcp(host: address, port: world.port), host: "hello.localhost"),
            response.status == 200
        else { return nil }
        return response.text
    }

    func jail(_ release: Release) async -> JailPresence {
        if world.standIn.running(release.name) != nil { return .running }
        return world.standIn.hasDataset(release.name) ? .stopped : .gone
    }

    /// None: rc.d/jail never sees a release; the agent starts live ones after their policy.
    func bootSet() async -> Set<String>? { nil }
    var keepsServiceLogs: Bool { true }
}

extension GitFixture {
    /// Commits the hello app saying `label` on `/`, its `/up` answering as `health`.
    func commitHello(_ label: String, answering health: HealthAnswers) async throws -> String {
        switch health {
        case .healthy: try await commitHello(label)
        case .unhealthy: try await commitHello(label, upStatus: 500)
        case .failsAfter(let n): try await commitHello(label, failAfterAnswers: n)
        }
    }
}

/// Requests through Caddy, one after another, while a deploy runs.
enum Traffic {
    /// Runs `body` while asking `world` what serves, and goes on for `after` more requests once
    /// it has ended: `body`'s result and every answer in order (nil: nothing answered).
    static func during<T: Sendable>(
        _ world: any ScenarioWorld, after: Int = 20, _ body: () async throws -> T
    ) async -> (result: Result<T, any Error>, answers: [String?]) {
        let done = StopSignal()
        let requests = Task {
            var answers: [String?] = []
            var since = 0
            // A bound for a deploy that hangs, not a wait: the loop ends on the deploy's end.
            let limit = ContinuousClock.now + .seconds(120)
            while since < after, ContinuousClock.now < limit {
                if done.isSet { since += 1 }
                answers.append(await world.serving())
            }
            return answers
        }
        let result = await Result { try await body() }
        done.set()
        return (result, await requests.value)
    }
}
