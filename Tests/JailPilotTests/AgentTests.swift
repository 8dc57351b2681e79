import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// `jailpilot run` end to end against real local remotes (root, like the deploy tests).
@Suite(.serialized, .enabled(if: canDeploy, "needs root, caddy, go, btrfs-progs and iproute2"))
struct AgentTests {
    func live(_ world: E2EWorld, _ app: String = "hello") throws -> String? { try world.runtime.store.live(app: app)?.sha }

    func events(_ world: E2EWorld) -> String {
        (try? String(contentsOfFile: "\(world.state.path)/agent.log", encoding: .utf8)) ?? ""
    }

    @Test func pushPinUnpinAndBadConfigReload() async throws {
        try await E2EWorld.with { world in
            let v1 = try await world.repo.commitHello("one")
            let agent = try Agent(configPath: world.configPath)
            let running = Task { await agent.run() }
            try await world.expectLive(v1)
            #expect(await world.fetch() == "one")
            // A second agent on the same state_dir is refused.
            #expect(throws: AgentAlreadyRunning.self) { try Agent(configPath: world.configPath) }

            let v2 = try await world.repo.commitHello("two")
            try await world.expectLive(v2)
            #expect(await world.fetch() == "two")

            // Ops pin v1: the agent notices the file change without a restart.
            var pinned = world.conf
            pinned[app: "hello"].pin = String(v1.prefix(10))
            try FileIO.replace(world.configPath, text: pinned.text)
            try await world.expectLive(v1)
            let pinnedApp = try #require(try ConfigLoader.load(path: world.configPath).app("hello"))
            let status = try await AppStatus.collect(
                pinnedApp, store: world.runtime.store, mirror: world.runtime.layout.mirror("hello"))
            #expect(status.text.contains("pinned at \(v1.prefix(12)), main is 1 commit ahead at \(v2.prefix(12))"))

            // A config that does not validate is refused; the last good one keeps running.
            var invalid = world.conf
            invalid[app: "hello"].keep = 0
            try FileIO.replace(world.configPath, text: invalid.text)
            #expect(await eventually { events(world).contains("event=config.rejected") })
            #expect(try live(world) == v1)

            // Unpin: the head goes live again.
            try FileIO.replace(world.configPath, text: world.conf.text)
            try await world.expectLive(v2)
            await agent.stop()
            await running.value
            #expect(events(world).contains("event=agent.stopped"))
        }
    }

    @Test func failedCommitStaysQuarantinedAcrossRestartsAndRemoteOutagesAreSurvived() async throws {
        try await E2EWorld.with { world in
            let v1 = try await world.repo.commitHello("good")
            let agent = try Agent(configPath: world.configPath)
            let running = Task { await agent.run() }
            try await world.expectLive(v1)
            let bad = try await world.repo.commitHello("bad", upStatus: 500)
            #expect(try await eventually { try world.runtime.store.quarantineReason(app: "hello", sha: bad) != nil })
            await agent.stop()
            await running.value

            let restarted = try Agent(configPath: world.configPath)
            let again = Task { await restarted.run() }
            #expect(await eventually { events(world).contains("event=release.skipped") })
            let attempts = try world.runtime.store.releases(app: "hello").filter { $0.sha == bad }.count
            #expect(attempts == 1)
            #expect(await world.fetch() == "good")

            // The remote disappears: polls fail, the live release keeps serving; it comes back.
            try await sh(["mv", world.repo.work, world.repo.work + ".away"])
            #expect(await eventually { events(world).contains("event=poll.failed") })
            #expect(await world.fetch() == "good")
            try await sh(["mv", world.repo.work + ".away", world.repo.work])
            #expect(await eventually(.seconds(30)) { events(world).contains("event=poll.recovered") })
            await restarted.stop()
            await again.value
        }
    }

    /// A force-push back to an older commit is a rewind: refused by default (replaying an old
    /// release is an attack), the live release stays; with allow_rewind it is deployed.
    @Test func forcePushBackwardsIsRefusedUnlessAllowedAndLogged() async throws {
        try await E2EWorld.with { world in
            let v1 = try await world.repo.commitHello("first")
            let agent = try Agent(configPath: world.configPath)
            let running = Task { await agent.run() }
            try await world.expectLive(v1)
            let v2 = try await world.repo.commitHello("second")
            try await world.expectLive(v2)
            try await world.repo.git(["reset", "-q", "--hard", v1])
            #expect(await eventually { events(world).contains("event=release.refused reason=rewind") }, "\(world.agentLogTail())")
            #expect(events(world).contains("event=head.moved_backwards"))
            #expect(events(world).contains("from=\(v2) to=\(v1)"))
            try await Task.sleep(for: .seconds(1))
            #expect(try live(world) == v2, "what is live stays live")
            #expect(await world.fetch() == "second")
            #expect(events(world).components(separatedBy: "event=release.refused").count == 2, "refused once, then skipped")

            var allowing = world.conf
            allowing[app: "hello"].allowRewind = true
            try FileIO.replace(world.configPath, text: allowing.text)
            try await world.expectLive(v1)
            #expect(await world.fetch() == "first")
            await agent.stop()
            await running.value
        }
    }

    /// SIGTERM while a commit builds is not a verdict on the commit: it is not quarantined, and
    /// the next agent builds and deploys it.
    @Test func stoppingDuringABuildDoesNotQuarantineTheCommit() async throws {
        // The marker lives in the build's HOME: the sandboxed build sees nothing else of the host
        // that lasts from one build to the next (its /tmp is its own).
        let build =
            #"build = ["sh", "-c", "[ -e \"$HOME/slow-once\" ] || { touch \"$HOME/slow-once\"; sleep 60; }; exec go build -o \"$1\" .", "sh", "{out}"]"#
        try await E2EWorld.with(appExtra: build) { world in
            let v1 = try await world.repo.commitHello("patient")
            let agent = try Agent(configPath: world.configPath)
            let running = Task { await agent.run() }
            // Stop once the slow build is really under way: `build.started` is logged before the
            // sandboxed shell runs, and a stop before its `touch` left the second build slow too
            // (seen once under load: 60 s of sleep, past the deadline below).
            let marker = "\(world.runtime.layout.home("hello"))/slow-once"
            #expect(await eventually(.seconds(30)) { FileIO.exists(marker) })
            #expect(events(world).contains("event=build.started"))
            await agent.stop()
            await running.value
            #expect(events(world).contains("event=build.cancelled"))
            #expect(try world.runtime.store.quarantineReason(app: "hello", sha: v1) == nil)

            let again = try Agent(configPath: world.configPath)
            let second = Task { await again.run() }
            try await world.expectLive(v1)
            #expect(await world.fetch() == "patient")
            await again.stop()
            await second.value
        }
    }
}
