import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// End to end on the Linux driver with real git, Go, btrfs, namespaces and Caddy.
/// Needs root (CI runs as root); skipped otherwise. The scenarios that run on every backend
/// (flip-back, Caddy down, rollback, retention, a release never healthy) are in ScenarioTests.
@Suite(.serialized, .enabled(if: canDeploy, "needs root, caddy, go, btrfs-progs and iproute2"))
struct DeployTests {
    @Test func restartedCaddyGetsItsRoutesBack() async throws {
        try await E2EWorld.with { world in
            _ = try await world.repo.commitHello("survivor")
            _ = try await world.deployer.deploy(world.app)
            try await E2EHost.shared.startCaddy()  // a new Caddy with an empty config
            var conf = world.conf
            conf.caddy.admin = "http://127.0.0.1:\(await E2EHost.shared.adminPort)"
            let newWorld = try Runtime(config: try conf.parsed(file: "x"), echo: false)
            #expect(try await newWorld.deployer().syncRoutes() == true)
            #expect(await world.fetch() == "survivor")
            #expect(try await newWorld.deployer().syncRoutes() == false)  // idempotent: no second reload
            _ = try? await newWorld.deployer().remove(world.app)
        }
    }

    @Test func appsThatExitOrCannotRunAreRefusedQuickly() async throws {
        try await E2EWorld.with(
            appExtra: "build = [\"sh\", \"-c\", \"cp marker.bin \\\"$0\\\" && chmod +x \\\"$0\\\"\", \"{out}\"]"
        ) { world in
            // Not an executable for this platform: random bytes.
            try await world.repo.commit(["marker.bin": "this is not an ELF binary\n"])
            let clock = ContinuousClock()
            let start = clock.now
            let error = await #expect(throws: DeployError.self) { try await world.deployer.deploy(world.app) }
            #expect(error?.description.contains("the app exited") == true)
            #expect(clock.now - start < .seconds(8))
            #expect(try world.runtime.store.live(app: "hello") == nil)
        }
    }

    @Test func appThatNeverListensFailsAtItsHealthDeadline() async throws {
        try await E2EWorld.with(appExtra: "health_deadline = \"2s\"") { world in
            _ = try await world.repo.commitHello("live")
            let live = try await world.deployer.deploy(world.app).release
            let sleeper = "package main\n\nimport \"time\"\n\nfunc main() { time.Sleep(time.Hour) }\n"
            let silent = try await world.repo.commit(["main.go": sleeper])
            let error = await #expect(throws: DeployError.self) { try await world.deployer.deploy(world.app) }
            #expect(error?.description.contains("not healthy within 2s") == true)
            #expect(try world.runtime.store.live(app: "hello")?.id == live.id)
            let jail = ReleaseName(app: "hello", sha: silent).text
            #expect(!FileManager.default.fileExists(atPath: "\(E2EHost.mountpoint)/containers/\(jail)"))
            #expect(await world.fetch() == "live")
        }
    }

    @Test func twoDeploysOfOneAppNeverInterleave() async throws {
        try await E2EWorld.with { world in
            try await world.repo.commitHello("once")
            let deployer = try world.deployer
            async let a = Result { try await deployer.deploy(world.app) }
            async let b = Result { try await deployer.deploy(world.app) }
            let results = await [a, b]
            let busy = results.compactMap { result -> DeployError? in
                if case .failure(let error as DeployError) = result, case .busy = error { return error }
                return nil
            }
            #expect(busy.count == 1)
            #expect(busy.first?.description.contains("another deploy or rollback of hello is running") == true)
            #expect(results.contains { if case .success = $0 { true } else { false } })
        }
    }
}
