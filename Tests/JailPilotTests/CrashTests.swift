import Foundation
import JailPilot
import Testing

/// kill -9 the agent at every step of a deploy; on restart it converges and nothing is orphaned.
/// Runs the agent as `jailpilot-crashtest run --crash-at STEP` (the agent of `jailpilot run`
/// with SIGKILL crash points, not shipped), on the real host (root, like the deploy tests).
@Suite(.serialized, .enabled(if: canDeploy, "needs root, caddy, go, btrfs-progs and iproute2"))
struct CrashTests {
    /// The built executables' directory.
    static var products: String { URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path }
    /// The shipped `jailpilot` binary.
    static var binary: String { "\(products)/jailpilot" }
    /// The crash-test driver.
    static var crashTest: String { "\(products)/jailpilot-crashtest" }
    /// Every crash point of a deploy, in order.
    static let steps = ["fetch", "build", "clone", "install", "start", "health", "flip", "probation", "retire", "destroy"]

    /// The agent on `config`, killed with SIGKILL when a deploy reaches `step`.
    static func runKilled(at step: String, config: String, stderr: String) async throws -> ProcessResult {
        try await HostProcessRunner().run(
            Command(Self.crashTest, ["run", "-c", config, "--crash-at", step]), stdout: .discard,
            stderr: .append(path: stderr), timeout: .seconds(90))
    }

    @Test(arguments: Self.steps)
    func agentKilledAtStepConvergesWithoutOrphans(step: String) async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.crashTest), "build jailpilot-crashtest first")
        try await E2EWorld.with(appExtra: "keep = 1", probation: "300ms") { world in
            let store = world.runtime.store
            try await world.repo.commitHello("zero")
            _ = try await world.deployer.deploy(world.app)
            try await world.repo.commitHello("one")
            _ = try await world.deployer.deploy(world.app)
            let v2 = try await world.repo.commitHello("two")

            // The agent dies at `step` while deploying v2.
            let crashed = try await Self.runKilled(
                at: step, config: world.configPath, stderr: "\(world.state.path)/crashed.out")
            #expect(crashed.status == 128 + SIGKILL, "the agent should have died at \(step)")
            #expect(["one", "two"].contains(await world.fetch()), "something serves while the agent is down")

            // Restarted, it converges: v2 live and serving, nothing left half-made.
            let agent = try Agent(configPath: world.configPath)
            let running = Task { await agent.run() }
            let converged = try await eventually {
                let releases = try store.releases(app: "hello")
                return releases.first { $0.state == .live }?.sha == v2
                    && releases.allSatisfy { [.live, .retired, .destroyed, .failed].contains($0.state) }
                    && releases.filter { $0.state == .retired }.count <= 1
            }
            let states = (try? store.releases(app: "hello").map { "\($0.sha.prefix(7))=\($0.state)" }) ?? []
            #expect(converged, "not converged after a crash at \(step): \(states)")
            #expect(await eventually(.seconds(5)) { await world.fetch() == "two" })
            await agent.stop()
            await running.value

            let releases = try store.releases(app: "hello")
            let live = try #require(releases.first { $0.state == .live })
            #expect(RouteTable.load(stateDir: world.state.path).addresses["hello"] == live.address)
            let containers = Set(try FileManager.default.contentsOfDirectory(atPath: "\(E2EHost.mountpoint)/containers"))
            // An interrupted attempt and the later successful one share a jail name: check each name once,
            // by its newest release.
            var seen = Set<String>()
            for release in releases where seen.insert(release.name).inserted {
                let hasFilesystem = containers.contains(release.name)
                let hasNetwork = FileManager.default.fileExists(atPath: "/run/netns/\(release.name)")
                switch release.state {
                case .live: #expect(hasFilesystem && hasNetwork)
                case .retired: #expect(hasFilesystem && !hasNetwork, "\(release.name) retired")
                default:
                    #expect(
                        !hasFilesystem && !hasNetwork,
                        "\(release.name) is \(release.state) but left \(hasFilesystem ? "its filesystem" : "its network")")
                }
            }
        }
    }

    /// kill -9 one probation check after the flip to a release whose /up fails a few seconds
    /// later: the restarted agent resumes the probation and flips back, instead of retiring the
    /// good release and leaving the failing one live for good.
    @Test func agentKilledDuringProbationStillFlipsBackAFailingRelease() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.crashTest), "build jailpilot-crashtest first")
        try await E2EWorld.with(probation: "10s") { world in
            let store = world.runtime.store
            let v1 = try await world.repo.commitHello("steady")
            _ = try await world.deployer.deploy(world.app)
            let v2 = try await world.repo.commitHello("flaky", failAfterMs: 4000)

            let crashed = try await Self.runKilled(
                at: "probation", config: world.configPath, stderr: "\(world.state.path)/crashed.out")
            #expect(crashed.status == 128 + SIGKILL, "the agent should have died in probation")
            #expect(try store.live(app: "hello")?.sha == v2)

            let agent = try Agent(configPath: world.configPath)
            let running = Task { await agent.run() }
            let reverted = try await eventually(.seconds(40)) {
                try store.live(app: "hello")?.sha == v1
                    && store.releases(app: "hello").contains { $0.sha == v2 && $0.state == .failed && $0.step == "probation" }
            }
            #expect(reverted, "\((try? store.releases(app: "hello").map { "\($0.sha.prefix(7))=\($0.state)" }) ?? [])")
            #expect(try store.quarantineReason(app: "hello", sha: v2) != nil)
            #expect(await world.fetch() == "steady")
            let log = (try? String(contentsOfFile: "\(world.state.path)/agent.log", encoding: .utf8)) ?? ""
            #expect(log.contains("event=probation.resumed"))
            await agent.stop()
            await running.value
        }
    }
}
