import Foundation
import JailPilot
import Testing

/// End to end on the Linux driver with real git, Go, btrfs, namespaces and Caddy.
/// Needs root (CI runs as root); skipped otherwise.
@Suite(.serialized, .enabled(if: canDeploy, "needs root, caddy, go, btrfs-progs and iproute2"))
struct DeployTests {
    @Test func deployFlipFailRollbackAndRetention() async throws {
        try await E2EWorld.with(appExtra: "keep = 1") { world in
            let deployer = try world.deployer
            let v1 = try await world.repo.commitHello("one")
            let first = try await deployer.deploy(world.app)
            #expect(first.release.sha == v1 && first.release.state == .live)
            #expect(await world.fetch() == "one")

            let v2 = try await world.repo.commitHello("two")
            _ = try await deployer.deploy(world.app)
            #expect(await world.fetch() == "two")

            // v3 never gets healthy: v2 keeps serving and nothing of v3 is left.
            let v3 = try await world.repo.commitHello("three", upStatus: 500)
            let error = await #expect(throws: DeployError.self) { try await deployer.deploy(world.app) }
            #expect(error?.description.contains("failed at health") == true)
            #expect(error?.description.contains("answered 500") == true)
            #expect(await world.fetch() == "two")
            let v3Name = ReleaseName(app: "hello", sha: v3).text
            #expect(!FileManager.default.fileExists(atPath: "\(E2EHost.mountpoint)/containers/\(v3Name)"))
            #expect(!FileManager.default.fileExists(atPath: "/run/netns/\(v3Name)"))
            #expect(try world.runtime.store.releases(app: "hello").first { $0.sha == v3 }?.state == .failed)
            #expect(try world.runtime.store.quarantineReason(app: "hello", sha: v3) != nil)

            // Rollback to v1 (stopped after v2's probation): start + health + flip, and a hold.
            let back = try await deployer.rollback(world.app)
            #expect(back.release.sha == v1)
            #expect(back.phases.map(\.0).contains("start"))
            #expect(await world.fetch() == "one")
            #expect(try world.runtime.store.holdSHA(app: "hello") == v1)

            // A new process (as after an agent restart) rolls back to v2, which still runs: a flip only.
            let restarted = try Runtime(config: world.runtime.config, echo: false).deployer()
            let flip = try await restarted.rollback(world.app, to: String(v2.prefix(8)))
            #expect(flip.phases.map(\.0) == ["flip"])
            #expect(await world.fetch() == "two")

            // Rollback to a release that does not exist names the kept ones.
            let missing = await #expect(throws: DeployError.self) { try await deployer.rollback(world.app, to: "abcdef12") }
            #expect(missing?.description.contains("no kept release of hello matches 'abcdef12'") == true)

            // Resume deploys the head again; with keep = 1 exactly one stopped release remains.
            try await world.repo.commitHello("four")
            let resumed = try await deployer.resume(world.app)
            #expect(await world.fetch() == "four")
            #expect(try world.runtime.store.holdSHA(app: "hello") == nil)
            let releases = try world.runtime.store.releases(app: "hello")
            #expect(releases.filter { $0.state == .retired }.count == 1)
            #expect(releases.filter { $0.state == .live }.map(\.sha) == [resumed.release.sha])
            let containers = try FileManager.default.contentsOfDirectory(atPath: "\(E2EHost.mountpoint)/containers")
                .filter { dir in releases.contains { $0.name == dir } }
            #expect(containers.count == 2)  // the live one and the one kept
        }
    }

    @Test func probationFailureFlipsBackByItself() async throws {
        try await E2EWorld.with(probation: "4s") { world in
            let deployer = try world.deployer
            let v1 = try await world.repo.commitHello("steady")
            _ = try await deployer.deploy(world.app)
            try await world.repo.commitHello("flaky", failAfterMs: 1500)
            // Requests all through: the failing release still answers `/` until it is destroyed,
            // which must wait until Caddy's cached lookup of it has expired.
            let stop = StopSignal()
            let traffic = Task {
                await ResolverFailoverTests.load(world, expect: ["steady", "flaky"], until: stop, limit: .seconds(90))
            }
            let error = await #expect(throws: DeployError.self) { try await deployer.deploy(world.app) }
            try await Task.sleep(for: .milliseconds(300))
            stop.set()
            let (ok, failed) = await traffic.value
            #expect(failed.isEmpty, "\(failed.count) of \(ok + failed.count) requests failed at the flip back: \(Set(failed))")
            #expect(error?.description.contains("during probation") == true)
            #expect(try world.runtime.store.live(app: "hello")?.sha == v1)
            #expect(await world.fetch() == "steady")
        }
    }

    @Test func caddyDownFailsBeforeTouchingAnythingLive() async throws {
        try await E2EWorld.with { world in
            _ = try await world.repo.commitHello("live one")
            let live = try await world.deployer.deploy(world.app).release
            let deadAdmin = try ConfigLoader.parse(
                configText(world, admin: "http://127.0.0.1:\(freePort())"),
                file: "dead.conf")
            let runtime = try Runtime(config: deadAdmin, echo: false)
            let v2 = try await world.repo.commitHello("never")
            let error = await #expect(throws: RouterError.self) { try await runtime.deployer().deploy(world.app) }
            #expect(error?.description.contains("unreachable") == true)
            #expect(error?.description.contains("Nothing was changed") == true)
            #expect(try runtime.store.live(app: "hello")?.id == live.id)
            #expect(try runtime.store.releases(app: "hello").contains { $0.sha == v2 } == false)
            #expect(await world.fetch() == "live one")
        }
    }

    @Test func restartedCaddyGetsItsRoutesBack() async throws {
        try await E2EWorld.with { world in
            _ = try await world.repo.commitHello("survivor")
            _ = try await world.deployer.deploy(world.app)
            try await E2EHost.shared.startCaddy()  // a new Caddy with an empty config
            let newWorld = try Runtime(
                config: try ConfigLoader.parse(
                    configText(world, admin: "http://127.0.0.1:\(await E2EHost.shared.adminPort)"), file: "x"), echo: false)
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

    func configText(_ world: E2EWorld, admin: String) -> String {
        world.configText.replacingOccurrences(of: "admin = \"\(world.adminAddress)\"", with: "admin = \"\(admin)\"")
    }
}
