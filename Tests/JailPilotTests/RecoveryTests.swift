import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// The agent's start-up recovery, and failures on deploy paths that used to pass in silence:
/// each is said in the log, and nothing claims what did not happen.
@Suite struct RecoveryTests {
    typealias W = MemoryWorld

    func with(_ extra: String = "", _ body: (MemoryWorld) async throws -> Void) async throws {
        let world = try MemoryWorld(apps: [("hello", extra)])
        defer { world.tearDown() }
        try await body(world)
    }

    /// The world's events (hello's and the agent's), one line each, as the log has them.
    func log(_ world: MemoryWorld) -> String {
        let events =
            ((try? world.runtime.store.events(app: "hello", limit: 1000)) ?? [])
            + ((try? world.runtime.store.events(app: "-", limit: 1000)) ?? [])
        return events.map { event in
            (["event=\(event.name)"] + event.fields.map { "\($0.0)=\($0.1)" }).joined(separator: " ")
        }.joined(separator: "\n")
    }

    /// Runs SQL on the world's state.db from another process, as another writer would.
    func sql(_ world: MemoryWorld, _ statement: String) async throws {
        let db = "\(world.runtime.config.agent.stateDir)/state.db"
        let result = try await HostProcessRunner().run(
            Command(
                "python3",
                [
                    "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()", db,
                    statement,
                ]))
        try #require(result.status == 0, "\(result.stderrText)")
    }

    @Test func anAgentStartingWhileADeployRunsLeavesThatDeploysReleaseAlone() async throws {
        try await with { world in
            try await world.push(1)
            // `jailpilot deploy` of commit 2 is between its provision and its health gate: it
            // holds the app's lock, its row says starting, its jail runs.
            let app = world.app()
            let lock = try await AppLock.acquire(stateDir: world.runtime.config.agent.stateDir, app: "hello")
            let row = try world.runtime.store.seedRelease(app: "hello", sha: W.sha(2), state: .starting, address: "10.99.0.3")
            let spec = JailSpec(release: row, app: app, layout: world.runtime.layout)
            world.host.place(spec, running: true, owner: world.host.owner)

            var recovery = Recovery(deployer: world.deployer, config: world.runtime.config)
            recovery.patience = .milliseconds(50)
            await recovery.run()
            #expect(try world.runtime.store.release(id: row.id)?.state == .starting, "the deploy's release is its own")
            #expect(world.host.jails[spec.name] != nil, "its jail was not destroyed under it")
            #expect(log(world).contains("event=recovery.deferred"))

            // Once no deploy holds it, a release left half-made is undone.
            withExtendedLifetime(lock) {}
            _ = consume lock
            await recovery.run()
            #expect(try world.runtime.store.release(id: row.id)?.state == .failed)
            #expect(world.host.jails[spec.name] == nil)
        }
    }

    @Test func aQuarantineTheStoreRefusedIsSaidAndNotClaimed() async throws {
        try await with { world in
            try await world.push(1)
            // The store takes no quarantine (a full disk, a broken file): the deploy path must say so.
            try await sql(
                world, "CREATE TRIGGER no_quarantine BEFORE INSERT ON quarantine BEGIN SELECT RAISE(FAIL, 'disk I/O error'); END;"
            )
            world.health.set(W.sha(2), .never)
            await #expect(throws: DeployError.self) { try await world.push(2) }
            let text = log(world)
            #expect(text.contains("event=store.write_failed"), "the failed write is in the log")
            #expect(text.contains("what=quarantine"))
            #expect(!text.contains("event=release.quarantined"), "no line claims a quarantine that did not happen")
            #expect(try world.runtime.store.quarantineReason(app: "hello", sha: W.sha(2)) == nil)
        }
    }

    @Test func aFlipBackWhoseDestroyFailsSaysSoAndNamesTheJail() async throws {
        try await with { world in
            try await world.push(1)
            world.health.set(W.sha(2), .failsAfter(4))
            world.host.fail(.destroy, with: "zfs: dataset is busy")
            await #expect(throws: DeployError.self) { try await world.push(2) }
            world.host.fail(.destroy, with: nil)
            let text = log(world)
            #expect(text.contains("event=release.reverted"))
            #expect(text.contains("event=release.destroy_failed"))
            #expect(text.contains("jail=hello_\(W.sha(2).prefix(12))"))
        }
    }

    @Test func anUnreadableStoreRaisesNoMarkFromTheHost() async throws {
        try await with { world in
            try await world.push(1)
            // A jail of this state_dir carrying a newer mark, whose row says it never went live.
            let app = world.app()
            let row = try world.runtime.store.seedRelease(app: "hello", sha: W.sha(9), state: .failed, address: nil)
            var spec = JailSpec(release: row, app: app, layout: world.runtime.layout)
            spec.mark = CommitMark(sha: W.sha(9), generation: 99)
            world.host.place(spec, running: false, owner: world.host.owner)
            let before = try world.runtime.store.mark(app: "hello")
            try await sql(world, "ALTER TABLE releases RENAME TO releases_unreadable;")
            #expect(await world.deployer.recoverMarks().isEmpty)
            try await sql(world, "ALTER TABLE releases_unreadable RENAME TO releases;")
            #expect(try world.runtime.store.mark(app: "hello") == before, "a failed read raises nothing")
            #expect(log(world).contains("event=mark.recover_failed"))
        }
    }

    @Test func theStoreRefusesAMissingRowAnUnknownStateAndConditionsOutOfTheirState() async throws {
        try await with { world in
            let store = world.runtime.store
            let live = try store.seedRelease(app: "hello", sha: W.sha(1), state: .live, address: "10.99.0.2")
            var ghost = live
            ghost.id = 4242
            #expect(throws: ReleaseMissingError.self) { try store.update(ghost, state: .retired) }
            #expect(throws: ReleaseTransitionError.self) { try store.markDraining(live) }
            #expect(throws: ReleaseTransitionError.self) { try store.markReleaseStepRan(live) }
            // Draining ends with the standby state it belongs to.
            let standby = try store.update(live, state: .standby)
            let draining = try store.markDraining(standby)
            #expect(draining.isDraining)
            let retired = try store.update(draining, state: .retired)
            #expect(!retired.isDraining && retired.step == nil)
            try await sql(world, "UPDATE releases SET state = 'migrating' WHERE id = \(live.id);")
            #expect(throws: UnknownReleaseStateError.self) { try store.releases(app: "hello") }
        }
    }
}
