import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// The release state machine on in-memory drivers (Sources/JailPilotTesting): no root, no
/// jails, no network, no git or Go, and a clock that moves only when waited on, so a 30 s
/// probation or a 5 min drain timeout takes microseconds. End-to-end tests cover what only a
/// real host shows; the scenarios that run on both (flip-back, Caddy down, rollback,
/// retention) are in ScenarioTests.
@Suite struct StateMachineTests {
    typealias W = MemoryWorld

    func with(_ apps: [(String, String)] = [("hello", "")], _ body: (MemoryWorld) async throws -> Void) async throws {
        let world = try MemoryWorld(apps: apps)
        defer { world.tearDown() }
        try await body(world)
    }

    func states(_ world: MemoryWorld, _ app: String = "hello") throws -> [String: ReleaseState] {
        Dictionary(try world.runtime.store.releases(app: app).map { ($0.sha, $0.state) }, uniquingKeysWith: { a, _ in a })
    }

    @Test func aPushGoesLiveAndTheNextReplacesItWithTheOldOneKeptStopped() async throws {
        try await with { world in
            let first = try await world.push(1)
            #expect(first.release.state == .live)
            #expect(world.host.bootSet == [first.release.name])
            #expect(world.router.routedApps == ["hello"])
            #expect(world.host.policy?.members.map(\.address) == [first.release.address ?? "-"])
            let second = try await world.push(2)
            #expect(try states(world) == [W.sha(1): .retired, W.sha(2): .live])
            #expect(world.host.bootSet == [second.release.name], "only the live release comes back after a reboot")
            #expect(world.host.jails[first.release.name]?.running == false, "kept for rollback, stopped")
            #expect(RouteTable.load(stateDir: world.runtime.config.agent.stateDir).addresses["hello"] == second.release.address)
        }
    }

    @Test(arguments: ["keep = 1", "keep = 1\ndata = \"/var/db/hello\"\nrelease = [\"/usr/local/bin/hello\", \"migrate\"]"])
    func theMemoryHostRunsExactlyThePrintedPlanToo(settings: String) async throws {
        try await with([("hello", settings)]) { world in
            for n in 1...3 {
                world.source.push(W.sha(n))
                let runtime = world.runtime
                let app = world.app()
                let address = try AddressPool(config: runtime.config, store: runtime.store).allocate(
                    excluding: await world.host.addressesInUse())
                let spec = JailSpec(app: app, sha: W.sha(n), address: address, artifact: runtime.layout.artifact(app, W.sha(n)))
                let printed = try await world.deployer.plan(.deploy, app: app, spec: spec)
                _ = world.recorder.take()
                try await world.push(n)
                PlanIsWhatRunsTests.expectSame(world.recorder.take(), printed, "deploy \(n)")
            }
        }
    }

    @Test func aHostFaultIsNotHeldAgainstTheCommit() async throws {
        try await with { world in
            try await world.push(1)
            world.host.fail(.start, with: "jail: hello_...: not started (disk full)")
            await #expect(throws: DeployError.self) { try await world.push(2) }
            #expect(try world.runtime.store.quarantineReason(app: "hello", sha: W.sha(2)) == nil, "tried again later")
            world.host.fail(.start, with: nil)
            #expect(try await world.push(2).release.state == .live)
        }
    }

    // Regression (#33): status kept showing a failure from before the deploys that followed it.
    @Test func statusShowsAFailureOnlyUntilAReleaseGoesLiveAfterIt() async throws {
        try await with { world in
            try await world.push(1)
            world.host.fail(.start, with: "jail: hello_...: not started (disk full)")
            await #expect(throws: DeployError.self) { try await world.push(2) }
            let failed = try await AppStatus.collect(world.app(), store: world.runtime.store)
            #expect(failed.text.contains("failure   \(W.sha(2).prefix(12)) at "), "\(failed.text)")
            world.host.fail(.start, with: nil)
            world.clock.advance(.seconds(1))
            try await world.push(3)
            let after = try await AppStatus.collect(world.app(), store: world.runtime.store)
            #expect(!after.text.contains("failure"), "\(after.text)")
        }
    }

    @Test func aBuildFailureQuarantinesTheCommitAndTouchesNothing() async throws {
        try await with { world in
            let live = try await world.push(1).release
            world.source.breakBuild(W.sha(2))
            await #expect(throws: BuildError.self) { try await world.push(2) }
            #expect(try world.runtime.store.live(app: "hello")?.id == live.id)
            #expect(try world.runtime.store.quarantineReason(app: "hello", sha: W.sha(2)) != nil)
            #expect(world.host.jails.count == 1)
        }
    }

    @Test func failingInProbationAfterAReleaseStepHoldsInsteadOfFlippingBack() async throws {
        try await with([("hello", "release = [\"/usr/local/bin/hello\", \"migrate\"]")]) { world in
            let first = try await world.push(1).release
            world.health.set(W.sha(2), .failsAfter(3))
            await #expect {
                try await world.push(2)
            } throws: { error in
                if case DeployError.held = error { return true }
                return false
            }
            let live = try #require(try world.runtime.store.live(app: "hello"))
            #expect(live.sha == W.sha(2), "the old code is not put back on data its release step may have migrated")
            #expect(try world.runtime.store.releases(app: "hello").first { $0.id == first.id }?.state == .standby)
        }
    }

    @Test func aReleaseStepThatFailsAbandonsTheReleaseBeforeTheFlip() async throws {
        try await with([("hello", "release = [\"/usr/local/bin/hello\", \"migrate\"]")]) { world in
            let first = try await world.push(1).release
            world.host.setReleaseStepStatus(3)
            await #expect(throws: DeployError.self) { try await world.push(2) }
            #expect(try world.runtime.store.live(app: "hello")?.id == first.id)
            #expect(try states(world)[W.sha(2)] == .failed)
            #expect(try world.runtime.store.quarantineReason(app: "hello", sha: W.sha(2)) != nil)
        }
    }

    @Test func anOpenStreamHoldsTheOldReleaseUntilTheDrainTimeout() async throws {
        try await with([("hello", "drain_timeout = \"5m\"")]) { world in
            let first = try await world.push(1).release
            world.host.setConnections(first.name, 2)
            try await world.push(2)
            let old = try #require(try world.runtime.store.releases(app: "hello").first { $0.id == first.id })
            #expect(old.state == .standby && old.step == "draining", "still serving its open streams")
            #expect(world.host.jails[first.name]?.running == true)
            // The agent's drain pass, a minute later: still open, still running.
            world.clock.advance(.seconds(60))
            try await world.deployer.retireDrained(world.app())
            #expect(world.host.jails[first.name]?.running == true)
            // Past the drain timeout it is stopped whatever is still open.
            world.clock.advance(.seconds(300))
            try await world.deployer.retireDrained(world.app())
            #expect(try states(world)[W.sha(1)] == .retired)
            #expect(world.host.jails[first.name]?.running == false)
        }
    }

    @Test func aStreamThatClosesLetsTheOldReleaseGoAtTheNextPass() async throws {
        try await with { world in
            let first = try await world.push(1).release
            world.host.setConnections(first.name, 1)
            try await world.push(2)
            world.host.setConnections(first.name, 0)
            try await world.deployer.retireDrained(world.app())
            #expect(try states(world)[W.sha(1)] == .retired)
        }
    }

    @Test func deployingAKeptCommitActivatesItsJailInsteadOfBuildingAnother() async throws {
        try await with { world in
            let first = try await world.push(1).release
            try await world.push(2)
            let back = try await world.deployer.deploy(world.app(), sha: W.sha(1))
            #expect(back.release.id == first.id, "the kept release, not a new one")
            #expect(try world.runtime.store.releases(app: "hello").count == 2)
            #expect(world.host.jails[first.name]?.running == true)
            #expect(world.host.bootSet == [first.name])
        }
    }

    @Test func aLostStoreOverOurLiveJailsIsRefusedNotTreatedAsFresh() async throws {
        try await with { world in
            // Jails of this state_dir on the host, and a store that knows none of them.
            let app = world.app()
            world.host.place(
                JailSpec(app: app, sha: W.sha(7), address: "10.99.0.2", artifact: "/x"), running: true, owner: world.host.owner)
            await #expect(throws: StoreLostError.self) { try await world.push(1) }
            #expect(world.host.jails.count == 1, "nothing of the running jail was touched")
        }
    }

    @Test func aLeftoverOfOursWithTheNewReleasesNameIsClaimedAnotherOnesIsRefused() async throws {
        try await with { world in
            try await world.push(1)
            let app = world.app()
            let leftover = JailSpec(app: app, sha: W.sha(2), address: "10.99.0.9", artifact: "/x")
            world.host.place(leftover, running: false, owner: world.host.owner)
            #expect(try await world.push(2).release.state == .live, "our own undone attempt is destroyed and made again")
            let foreign = JailSpec(app: app, sha: W.sha(3), address: "10.99.0.10", artifact: "/x")
            world.host.place(foreign, running: true, owner: OwnerID(id: "ffffffffffffffff", stateDir: "/elsewhere"))
            await #expect(throws: NotOwnedError.self) { try await world.push(3) }
            #expect(world.host.jails[foreign.name]?.running == true, "another state_dir's jail is left alone")
        }
    }

    /// Six apps deploying at once, as the agent's watchers do: each release gets an address of
    /// its own, and the policy in force at the end knows every one of them.
    @Test func appsDeployingAtOnceGetTheirOwnAddressesAndOnePolicyWithAllOfThem() async throws {
        let names = (1...6).map { "app\($0)" }
        try await with(names.map { ($0, "") }) { world in
            for round in 1...5 {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (i, name) in names.enumerated() {
                        group.addTask { try await world.push(round * 10 + i, app: name) }
                    }
                    try await group.waitForAll()
                }
                let live = try names.map { try #require(try world.runtime.store.live(app: $0)?.address) }
                #expect(Set(live).count == names.count, "round \(round): two releases got one address: \(live.sorted())")
                let policy = Set(world.host.policy?.members.map(\.address) ?? [])
                #expect(
                    Set(live).isSubset(of: policy), "round \(round): the policy lacks \(Set(live).subtracting(policy).sorted())")
            }
        }
    }

    /// A second app's deploy that comes in while the first one's policy is being loaded: the
    /// policy in force at the end still has both releases (no load of a stale policy last).
    @Test func aPolicyLoadInterruptedByAnotherDeployDoesNotDropItsRelease() async throws {
        try await with([("one", ""), ("two", "")]) { world in
            world.host.onNextPolicyLoad { _ in
                let other = Task { try await world.push(2, app: "two") }
                // Give it the time it takes (it finishes here unless it has to wait for this load).
                for _ in 0..<40 where ((try? world.runtime.store.live(app: "two")) ?? nil) == nil {
                    try? await Task.sleep(for: .milliseconds(5))
                }
                _ = other
            }
            try await world.push(1, app: "one")
            var two: Release?
            for _ in 0..<400 where two == nil {
                two = try world.runtime.store.live(app: "two")
                if two == nil { try await Task.sleep(for: .milliseconds(5)) }
            }
            let addresses = try [world.runtime.store.live(app: "one")?.address, two?.address].map { try #require($0) }
            let policy = world.host.policy?.members.map(\.address) ?? []
            #expect(Set(addresses).isSubset(of: Set(policy)), "the policy in force lacks \(Set(addresses).subtracting(policy))")
        }
    }
}
