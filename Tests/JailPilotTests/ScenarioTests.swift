import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// The release scenarios, written once and run on every backend (Support/ScenarioWorld.swift):
/// in memory, where a probation or a health deadline takes microseconds of a virtual clock; on
/// the real Linux driver (root, git, go, btrfs, namespaces, Caddy); and on the FreeBSD driver
/// over its stand-in (root, go, python3, bwrap). A backend that cannot run here is skipped
/// (its test case cancelled) with its reason.
@Suite struct ScenarioTests {
    static let backends = ScenarioBackend.allCases

    /// A release that passes its health gate and then fails during probation is flipped back by
    /// itself: the release it replaced, which kept running, serves again, every request through
    /// the flip and back is answered, and the failing commit is quarantined.
    @Test(arguments: backends)
    func aReleaseFailingInProbationIsFlippedBackAndQuarantined(_ backend: ScenarioBackend) async throws {
        try await backend.run(tune: { $0[app: "hello"].probation = "4s" }) { world in
            try await world.commit("steady", health: .healthy)
            let first = try await world.deployer.deploy(world.app).release
            let flaky = try await world.commit("flaky", health: .failsAfter(3))
            let deployer = try world.deployer
            let (result, answers) = await Traffic.during(world) { try await deployer.deploy(world.app) }

            #expect(throws: DeployError.self) { try result.get() }
            if case .failure(let error) = result {
                #expect("\(error)".contains("during probation"), "\(error)")
                if case DeployError.reverted = error {} else { Issue.record("not a flip back: \(error)") }
            }
            let unanswered = answers.filter { !["steady", "flaky"].contains($0) }
            #expect(unanswered.isEmpty, "\(unanswered.count) of \(answers.count) requests got no version: \(unanswered)")
            #expect(answers.last == "steady")
            #expect(try world.store.live(app: "hello")?.id == first.id)
            #expect(world.routed == first.address)
            #expect(await world.serving() == "steady")
            let failed = try #require(try world.release(flaky))
            #expect(failed.state == .failed)
            #expect(try world.store.quarantineReason(app: "hello", sha: flaky) != nil)
            #expect(await world.jail(failed) == .gone)
            #expect(await world.jail(first) == .running, "the previous release kept running all along")
            if let boot = await world.bootSet() { #expect(boot == [first.name]) }
        }
    }

    /// With Caddy's admin API unreachable, a deploy fails before anything live changes: no
    /// release row, no jail, the live release serves on.
    @Test(arguments: backends)
    func caddyUnreachableFailsTheDeployBeforeAnythingLiveChanges(_ backend: ScenarioBackend) async throws {
        try await backend.run { world in
            try await world.commit("live one", health: .healthy)
            let live = try await world.deployer.deploy(world.app).release
            let next = try await world.commit("never", health: .healthy)
            let error = await #expect(throws: RouterError.self) { try await world.caddyUnreachable().deploy(world.app) }
            #expect(error?.description.contains("Nothing was changed") == true, "\(String(describing: error))")
            #expect(try world.store.live(app: "hello")?.id == live.id)
            #expect(try world.store.releases(app: "hello").map(\.sha) == [live.sha], "no release row for \(next.prefix(12))")
            #expect(try world.store.quarantineReason(app: "hello", sha: next) == nil, "not the commit's fault")
            #expect(await world.jail(live) == .running)
            #expect(await world.serving() == "live one")
        }
    }

    /// Rollback to a stopped kept release starts it, gates it and flips to it; back to the
    /// standby release it replaced (from a new process, as after a restart) it is a flip only.
    /// Each places a hold; resume lifts it and deploys the head.
    @Test(arguments: backends)
    func rollbackStartsAStoppedReleaseAndOnlyFlipsToAStandbyOne(_ backend: ScenarioBackend) async throws {
        try await backend.run { world in
            let deployer = try world.deployer
            let v1 = try await world.commit("one", health: .healthy)
            let first = try await deployer.deploy(world.app).release
            #expect(first.sha == v1 && first.state == .live)
            #expect(await world.serving() == "one")
            let v2 = try await world.commit("two", health: .healthy)
            let second = try await deployer.deploy(world.app).release
            #expect(await world.serving() == "two")
            #expect(await world.jail(first) == .stopped, "kept for rollback, stopped")

            // To v1, stopped after v2's probation: start + health + flip, and a hold.
            let back = try await deployer.rollback(world.app)
            #expect(back.release.id == first.id)
            #expect(back.phases.map(\.0).contains("start"))
            #expect(await world.serving() == "one")
            #expect(try world.store.holdSHA(app: "hello") == v1)
            #expect(await world.jail(second) == .running, "the release rolled back from stands by")

            // A new process rolls back to v2, which still runs: a flip only.
            let flip = try await world.restarted().rollback(world.app, to: String(v2.prefix(8)))
            #expect(flip.release.id == second.id)
            #expect(flip.phases.map(\.0) == ["flip"])
            #expect(await world.serving() == "two")
            #expect(try world.store.holdSHA(app: "hello") == v2)

            // A release that was never kept: the error names the kept ones.
            let missing = await #expect(throws: DeployError.self) { try await deployer.rollback(world.app, to: "abcdef12") }
            #expect(missing?.description.contains("no kept release of hello matches 'abcdef12'") == true)

            // Resume lifts the hold and deploys the head.
            let v3 = try await world.commit("three", health: .healthy)
            let resumed = try await deployer.resume(world.app)
            #expect(resumed.release.sha == v3)
            #expect(await world.serving() == "three")
            #expect(try world.store.holdSHA(app: "hello") == nil)
            #expect(try world.states() == [v1: .retired, v2: .retired, v3: .live])
        }
    }

    /// With `keep = 1` the newest stopped release is kept and older ones are destroyed, and
    /// state_dir keeps what the kept releases need only: their artifacts, the newest build logs,
    /// and a failed release's service log for its quarantine.
    @Test(arguments: backends)
    func retentionKeepsTheNewestStoppedReleaseAndDestroysOlderOnes(_ backend: ScenarioBackend) async throws {
        try await backend.run(tune: { $0[app: "hello"].keep = 1 }) { world in
            let deployer = try world.deployer
            var shas: [String] = []
            var releases: [Release] = []
            for label in ["one", "two", "three"] {
                shas.append(try await world.commit(label, health: .healthy))
                releases.append(try await deployer.deploy(world.app).release)
            }
            #expect(try world.states() == [shas[0]: .destroyed, shas[1]: .retired, shas[2]: .live])
            #expect(await world.jail(releases[0]) == .gone)
            #expect(await world.jail(releases[1]) == .stopped)
            #expect(await world.jail(releases[2]) == .running)
            // Regression: every build's artifact stayed (8 deploys, keep = 2: 8 artifacts, 49 MiB).
            #expect(world.artifacts() == [shas[1], shas[2]], "an artifact lives as long as its release")

            let bad = try await world.commit("bad", health: .unhealthy)
            await #expect(throws: DeployError.self) { try await deployer.deploy(world.app) }
            let failed = try #require(try world.release(bad))
            let five = try await world.commit("five", health: .healthy)
            let fifth = try await deployer.deploy(world.app).release
            #expect(
                try world.states() == [shas[0]: .destroyed, shas[1]: .destroyed, shas[2]: .retired, bad: .failed, five: .live])
            #expect(await world.jail(releases[1]) == .gone)
            #expect(await world.jail(releases[2]) == .stopped)
            #expect(world.artifacts() == [shas[2], five], "a failed release's artifact goes at the next retire")
            #expect(await world.serving() == "five")

            let buildLogs = world.logs().filter { $0.hasPrefix("build-") }
            #expect(buildLogs.contains("build-\(fifth.sha.prefix(12)).log"))
            #expect(buildLogs.count <= 2 + Retention.keptLogs)
            let serviceLogs = world.logs().filter { $0.hasPrefix("hello_") }
            #expect(serviceLogs == (world.keepsServiceLogs ? ["\(failed.name).log"] : []), "kept for its quarantine")
        }
    }

    /// A release that never gets healthy is destroyed before the flip and its commit
    /// quarantined; the live release serves on as if nothing happened.
    @Test(arguments: backends)
    func aReleaseThatNeverGetsHealthyIsDestroyedAndTheLiveOneServesOn(_ backend: ScenarioBackend) async throws {
        try await backend.run { world in
            try await world.commit("live", health: .healthy)
            let live = try await world.deployer.deploy(world.app).release
            let bad = try await world.commit("bad", health: .unhealthy)
            let error = await #expect(throws: DeployError.self) { try await world.deployer.deploy(world.app) }
            #expect(error?.description.contains("failed at health") == true, "\(String(describing: error))")
            #expect(try world.store.live(app: "hello")?.id == live.id)
            let failed = try #require(try world.release(bad))
            #expect(failed.state == .failed)
            #expect(try world.store.quarantineReason(app: "hello", sha: bad) != nil)
            #expect(await world.jail(failed) == .gone, "the failed release's jail is gone")
            #expect(world.routed == live.address)
            #expect(await world.serving() == "live")
            if let boot = await world.bootSet() { #expect(boot == [live.name]) }
        }
    }
}
