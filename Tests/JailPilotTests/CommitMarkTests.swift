import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// The commit mark (the newest branch head an app had live) on in-memory drivers: a rewind is
/// judged against it as well as against the live release, rollbacks and pins leave it, and a
/// store restored from an older backup gets it back from the releases on the host.
@Suite struct CommitMarkTests {
    typealias W = MemoryWorld

    func push(_ world: MemoryWorld) async throws -> Release {
        try await world.deployer.deploy(world.app(), cause: "push").release
    }

    @Test func aForcePushBehindTheNewestLiveHeadIsRefusedAfterARollback() async throws {
        let world = try MemoryWorld()
        defer { world.tearDown() }
        for n in 1...3 { try await world.push(n) }
        #expect(try world.runtime.store.mark(app: "hello") == CommitMark(sha: W.sha(3), generation: 3))
        _ = try await world.deployer.rollback(world.app(), to: String(W.sha(1).prefix(12)))
        #expect(try world.runtime.store.mark(app: "hello")?.sha == W.sha(3), "a rollback leaves the mark")
        // The branch is force-pushed back to 2: a descendant of the live release (1), but not of 3.
        world.source.reset("hello", to: W.sha(2))
        let refusal = await #expect(throws: CommitRefusal.self) { _ = try await push(world) }
        #expect(refusal?.reason == .rewind)
        #expect(
            refusal?.detail.contains("the newest branch head it had live \(W.sha(3).prefix(12))") == true,
            "\(refusal?.detail ?? "")")
        #expect(try world.runtime.store.live(app: "hello")?.sha == W.sha(1), "the rollback stays live")
        // allow_rewind accepts it, and the mark follows the branch back.
        let allowing = try world.reopened(apps: [("hello", "allow_rewind = true")])
        #expect(try await allowing.deployer.deploy(allowing.app(), cause: "push").release.sha == W.sha(2))
        #expect(try allowing.runtime.store.mark(app: "hello") == CommitMark(sha: W.sha(2), generation: 4))
    }

    @Test func aCLIDeployBackLeavesTheMarkAndAFlipBackDoesNotRaiseIt() async throws {
        let world = try MemoryWorld()
        defer { world.tearDown() }
        try await world.push(1)
        try await world.push(2)
        // The operator deploys an older commit by hand: it goes live, the mark stays at 2.
        #expect(try await world.deployer.deploy(world.app(), sha: W.sha(1)).release.sha == W.sha(1))
        #expect(try world.runtime.store.mark(app: "hello") == CommitMark(sha: W.sha(2), generation: 2))
        // A pushed commit that fails probation is flipped back: the mark stays too.
        world.health.set(W.sha(3), .failsAfter(3))
        await #expect(throws: DeployError.self) { try await world.push(3) }
        #expect(try world.runtime.store.live(app: "hello")?.sha == W.sha(1))
        #expect(try world.runtime.store.mark(app: "hello") == CommitMark(sha: W.sha(2), generation: 2))
        // The next good head raises it past the failed one's generation.
        #expect(try await world.push(4).release.sha == W.sha(4))
        #expect(try world.runtime.store.mark(app: "hello") == CommitMark(sha: W.sha(4), generation: 3))
    }

    @Test func aRestoredStoreGetsTheMarkBackFromTheHostAndRefusesTheReplay() async throws {
        let world = try MemoryWorld()
        defer { world.tearDown() }
        try await world.push(1)
        try await world.push(2)
        let backup = "\(world.root)/backup.db"
        try world.runtime.store.backup(to: backup)
        try await world.push(3)
        let name3 = ReleaseName(app: "hello", sha: W.sha(3)).text
        #expect(world.host.jails[name3]?.spec.mark == CommitMark(sha: W.sha(3), generation: 3), "written on the release")

        // state.db is put back from the older copy: it says 2 is live and 2 is the newest head.
        let restored = try world.restored(from: backup)
        defer { restored.tearDown() }
        #expect(try restored.runtime.store.mark(app: "hello") == CommitMark(sha: W.sha(2), generation: 2))
        // The agent's start, in its order: what the store never heard of is found, kept by the sweep.
        let newer = await restored.deployer.jailsNewerThanStore()
        #expect(newer.map(\.name) == [name3], "the release made after the backup")
        #expect(await restored.deployer.recoverMarks() == ["hello"])
        try await restored.deployer.sweepOrphans(keeping: Set(newer.map(\.name)))
        #expect(restored.host.jails[name3]?.running == true, "the release that really serves is not swept away")
        #expect(try restored.runtime.store.mark(app: "hello") == CommitMark(sha: W.sha(3), generation: 3))
        #expect(await restored.deployer.recoverMarks() == [], "once: a mark never goes down or repeats")
        // The next start (the mark is the store's now): still kept, still said.
        #expect(await restored.deployer.jailsNewerThanStore().map(\.name) == [name3])
        try await restored.deployer.sweepOrphans(keeping: Set(await restored.deployer.jailsNewerThanStore().map(\.name)))
        #expect(restored.host.jails[name3]?.running == true, "not swept at the second start either")
        let events = try restored.runtime.store.events(app: "hello", limit: 10).map(\.name)
        #expect(events.contains("mark.recovered"))

        // A commit made on 2 (a replay of the branch as the backup knew it) is a rewind now.
        restored.source.reset("hello", to: W.sha(2))
        restored.source.push(W.sha(9), app: "hello")
        let refusal = await #expect(throws: CommitRefusal.self) { _ = try await push(restored) }
        #expect(refusal?.reason == .rewind)
    }

    @Test func aReleaseACrashStoppedInProbationRaisesNoMarkAtTheNextStart() async throws {
        let world = try MemoryWorld()
        defer { world.tearDown() }
        try await world.push(1)
        // 2 is flipped to and watched in probation when the agent dies: its jail already carries
        // the mark it would raise, the store still says 1 is the newest head that made it. (Had
        // the mark been taken from it, a force-push dropping 2 after its probation failed would
        // be refused as a rewind.)
        world.source.push(W.sha(2), app: "hello")
        var spec = try await world.deployer.deploySpec(world.app(), commit: W.sha(2), followsBranch: true)
        spec.mark = try await world.deployer.releaseMark(world.app(), commit: W.sha(2), raises: true)
        #expect(spec.mark == CommitMark(sha: W.sha(2), generation: 2))
        let store = world.runtime.store
        let previous = try #require(try store.live(app: "hello"))
        let row = try store.seedRelease(
            app: "hello", sha: W.sha(2), state: .healthy, address: spec.address, cause: "push", mark: 2)
        world.host.place(spec, running: true, owner: world.host.owner)
        _ = try store.flip(to: row, from: previous, probation: true)
        #expect(await world.deployer.recoverMarks() == [], "a release in probation proves nothing yet")
        #expect(try store.mark(app: "hello") == CommitMark(sha: W.sha(1), generation: 1))
        #expect(await world.deployer.jailsNewerThanStore().isEmpty, "the store knows it: not a restore")
    }

    @Test func aBranchHeadDeployedByHandOrByResumeRaisesTheMarkSoAForcePushBackIsRefused() async throws {
        let world = try MemoryWorld()
        defer { world.tearDown() }
        try await world.push(1)
        world.source.push(W.sha(2), app: "hello")
        world.source.push(W.sha(3), app: "hello")
        // The operator deploys the branch head by hand (`jailpilot deploy` without --sha).
        #expect(try await world.deployer.deploy(world.app()).release.sha == W.sha(3))
        #expect(
            try world.runtime.store.mark(app: "hello") == CommitMark(sha: W.sha(3), generation: 2),
            "a branch head raises the mark whoever deploys it")
        _ = try await world.deployer.rollback(world.app(), to: String(W.sha(1).prefix(12)))
        // The branch is force-pushed back to 2 (behind 3, which was live): `resume` takes the
        // branch head, which is a rewind whoever asks for it.
        world.source.reset("hello", to: W.sha(2))
        let refusal = await #expect(throws: CommitRefusal.self) { _ = try await world.deployer.resume(world.app()) }
        #expect(refusal?.reason == .rewind, "\(String(describing: refusal))")
        #expect(try world.runtime.store.live(app: "hello")?.sha == W.sha(1), "the rollback stays live")

        // A head `resume` deploys raises it too, and so does a kept release the head brings back.
        world.source.reset("hello", to: W.sha(3))
        world.source.push(W.sha(4), app: "hello")
        #expect(try await world.deployer.resume(world.app()).release.sha == W.sha(4))
        #expect(try world.runtime.store.mark(app: "hello") == CommitMark(sha: W.sha(4), generation: 3))
        let allowing = try world.reopened(apps: [("hello", "allow_rewind = true")])
        allowing.source.reset("hello", to: W.sha(3))
        #expect(try await allowing.deployer.deploy(allowing.app()).release.sha == W.sha(3), "3 is kept: activated again")
        #expect(try allowing.runtime.store.mark(app: "hello") == CommitMark(sha: W.sha(3), generation: 4))
    }

    @Test func marksAndOrphansOfAnAppWithAnEnvironmentAreFiledUnderThatApp() async throws {
        let apps = [("hello", "env = { LOG_LEVEL = \"info\" }"), ("other", "")]
        let world = try MemoryWorld(apps: apps)
        defer { world.tearDown() }
        try await world.push(1)
        try await world.push(2)
        let backup = "\(world.root)/backup.db"
        try world.runtime.store.backup(to: backup)
        try await world.push(3)
        let env = try AppEnvironment.resolve(world.app(), layout: world.runtime.layout).digest
        let name3 = ReleaseName(app: "hello", sha: W.sha(3), env: env).text
        #expect(world.host.jails[name3] != nil, "\(world.host.jails.keys.sorted())")
        let found = JailSpec(found: name3, service: "")
        #expect(found.app == "hello" && found.sha == String(W.sha(3).prefix(12)), "\(found)")

        // A store restored from before 3: the mark comes back under "hello".
        let restored = try world.restored(from: backup, apps: apps)
        defer { restored.tearDown() }
        #expect(await restored.deployer.recoverMarks() == ["hello"])
        #expect(try restored.runtime.store.mark(app: "hello") == CommitMark(sha: W.sha(3), generation: 3))
        let recovered = try restored.runtime.store.events(app: "hello", limit: 10).map(\.name)
        #expect(recovered.contains("mark.recovered"), "\(recovered)")

        // An orphan of hello (an undone attempt the store has no row of) is swept for hello.
        var orphan = JailSpec(app: world.app(), sha: W.sha(7), address: "10.99.0.77", artifact: "")
        orphan.name = ReleaseName(app: "hello", sha: W.sha(7), env: env).text
        orphan.envDigest = env
        world.host.place(orphan, running: false, owner: world.host.owner)
        try await world.deployer.sweepOrphans(app: "other")
        #expect(world.host.jails[orphan.name] != nil, "another app's sweep leaves it")
        try await world.deployer.sweepOrphans(app: "hello")
        #expect(world.host.jails[orphan.name] == nil, "swept as hello's")
    }
}
