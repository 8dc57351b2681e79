import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// Every action is one script: what `jailpilot plan` prints for it is, line for line, what the
/// deployer and the driver note while running it, on the memory host (no root). The branches
/// where the printed plan and the run used to part (a kept or live commit, a running standby,
/// retire with its retention, remove, rollback --with-data) each have a case.
@Suite struct ScriptIsWhatRunsTests {
    typealias W = MemoryWorld

    func with(_ extra: String = "keep = 2", _ body: (MemoryWorld) async throws -> Void) async throws {
        let world = try MemoryWorld(apps: [("hello", extra)])
        defer { world.tearDown() }
        try await body(world)
    }

    /// The spec `plan` is about for a known release of commit `n`.
    func kept(_ world: MemoryWorld, _ n: Int) throws -> JailSpec {
        let release = try #require(try world.runtime.store.releases(app: "hello").first { $0.sha == W.sha(n) })
        return JailSpec(release: release, app: world.app(), layout: world.runtime.layout)
    }

    /// Runs `action` after printing its plan; the lines noted while it ran must be the plan's.
    func expectRunsItsPlan(
        _ world: MemoryWorld, _ what: String, plan: () async throws -> [HostStep], run: () async throws -> Void
    ) async throws -> String {
        let printed = try await plan()
        _ = world.recorder.take()
        try await run()
        PlanIsWhatRunsTests.expectSame(world.recorder.take(), printed, what)
        return ReleasePlan.render(printed)
    }

    @Test func deployingAKeptCommitRunsTheActivationItsPlanPrints() async throws {
        try await with { world in
            for n in 1...2 { try await world.push(n) }
            let deployer = world.deployer
            let spec = try await deployer.deploySpec(world.app(), commit: W.sha(1), followsBranch: false)
            let text = try await expectRunsItsPlan(world, "deploy --sha of a kept commit") {
                try await deployer.plan(.deploy, app: world.app(), spec: spec)
            } run: {
                _ = try await deployer.deploy(world.app(), sha: W.sha(1))
            }
            #expect(!text.contains("provision"), "a kept release is not cloned again")
            #expect(text.contains("→ starting"), "it was stopped: started and gated once")
            #expect(try world.runtime.store.live(app: "hello")?.sha == W.sha(1))
        }
    }

    @Test func deployingTheLiveCommitPrintsAndRunsNothing() async throws {
        try await with { world in
            try await world.push(1)
            let deployer = world.deployer
            let spec = try await deployer.deploySpec(world.app(), commit: W.sha(1), followsBranch: false)
            let script = try await deployer.script(.deploy, app: world.app(), spec: spec)
            #expect(script.kind == .unchanged)
            // Regression (#32): the unchanged script named no release, so `plan` printed nothing.
            let text = ReleasePlan.render(try await deployer.render(script))
            #expect(text.contains("\(spec.name) is live already: nothing to do"), "\(text)")
            let outcome = try await deployer.deploy(world.app(), sha: W.sha(1))
            #expect(outcome.unchanged)
        }
    }

    @Test func rollbackToARunningStandbyIsAFlipInThePlanAndTheRun() async throws {
        try await with { world in
            for n in 1...2 { try await world.push(n) }
            let deployer = world.deployer
            // Back to 1 (stopped: started and gated), which leaves 2 standing by, running.
            _ = try await deployer.rollback(world.app(), to: String(W.sha(1).prefix(12)))
            let standby = try kept(world, 2)
            let text = try await expectRunsItsPlan(world, "rollback to a running standby") {
                try await deployer.plan(.rollback, app: world.app(), spec: standby)
            } run: {
                _ = try await deployer.rollback(world.app(), to: String(W.sha(2).prefix(12)))
            }
            #expect(!text.contains("health:"), "a running standby is flipped to, not started or gated")
            #expect(text.contains("held at \(W.sha(2).prefix(12))"))
        }
    }

    @Test func rollbackToAStoppedReleaseStartsAndGatesItInThePlanAndTheRun() async throws {
        try await with { world in
            for n in 1...2 { try await world.push(n) }
            let deployer = world.deployer
            let text = try await expectRunsItsPlan(world, "rollback to a stopped release") {
                try await deployer.plan(.rollback, app: world.app(), spec: try kept(world, 1))
            } run: {
                _ = try await deployer.rollback(world.app())
            }
            #expect(text.contains("health:"))
        }
    }

    @Test func retireRunsTheDrainTheStopAndTheRetentionItsPlanPrints() async throws {
        try await with("keep = 1") { world in
            for n in 1...2 { try await world.push(n) }
            let deployer = world.deployer
            _ = try await deployer.rollback(world.app(), to: String(W.sha(1).prefix(12)))
            let text = try await expectRunsItsPlan(world, "retire") {
                try await deployer.plan(.retire, app: world.app(), spec: try kept(world, 2))
            } run: {
                try await deployer.retireDrained(world.app())
            }
            #expect(text.contains("drain:"))
            #expect(try world.runtime.store.releases(app: "hello").first { $0.sha == W.sha(2) }?.state == .retired)
        }
    }

    @Test func removeRunsTheDestroysItsPlanPrints() async throws {
        try await with { world in
            for n in 1...3 { try await world.push(n) }
            let deployer = world.deployer
            let live = try kept(world, 3)
            let text = try await expectRunsItsPlan(world, "remove") {
                try await deployer.plan(.remove, app: world.app(), spec: live)
            } run: {
                let removed = try await deployer.remove(world.app())
                #expect(removed == 3)
            }
            #expect(text.components(separatedBy: "→ destroyed").count == 4)
            #expect(world.host.jails.isEmpty)
        }
    }

    @Test func rollbackWithDataRunsTheScriptItsPlanPrints() async throws {
        try await with("keep = 2\ndata = \"/var/db/hello\"") { world in
            for n in 1...2 { try await world.push(n) }
            let deployer = world.deployer
            let plan = try await deployer.dataRollbackPlan(world.app())
            let text = try await expectRunsItsPlan(world, "rollback --with-data") {
                try await deployer.render(try deployer.dataRollbackScript(world.app(), plan: plan))
            } run: {
                _ = try await deployer.rollbackWithData(world.app(), plan: plan)
            }
            #expect(text.contains("held at \(W.sha(1).prefix(12))"))
            #expect(try world.runtime.store.live(app: "hello")?.sha == W.sha(1))
        }
    }
}
