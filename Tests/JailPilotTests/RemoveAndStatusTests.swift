import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// Papercuts of #33 a user met: `remove` left the app's hostnames in Caddy, no command deleted a
/// data volume, two kept releases of one commit printed alike, and doctor's free-space check
/// did not name its limit.
@Suite struct RemoveAndStatusTests {
    // Regression: after `remove` of an app taken out of agent.conf, Caddy still routed its
    // hostnames (503 until `jailpilot routes`).
    @Test func removingAnAppOutOfAgentConfTakesItsHostnamesOutOfCaddy() async throws {
        let world = try MemoryWorld(apps: [("hello", ""), ("api", "")])
        defer { world.tearDown() }
        try await world.push(1, app: "hello")
        try await world.push(1, app: "api")
        let without = try world.reopened(apps: [("hello", "")])
        #expect(without.runtime.served.all.map(\.name).sorted() == ["api", "hello"], "api still runs: still served")
        _ = try await without.deployer.remove(try without.runtime.removableApp("api"))
        #expect(world.router.routedApps == ["hello"], "\(world.router.routedApps)")
    }

    // Regression: no command deleted a data volume; `remove` said to do it by hand.
    @Test func removeDataDeletesTheVolumeAndItsSnapshotsOnlyOnceNoJailMountsIt() async throws {
        let world = try MemoryWorld(apps: [("hello", "data = \"/var/db/hello\"")])
        defer { world.tearDown() }
        for n in 1...2 { try await world.push(n) }
        let deployer = world.deployer
        #expect(try world.runtime.store.snapshots(app: "hello").count == 2)
        let refused = await #expect(throws: DeployError.self) { try await deployer.removeData(world.app()) }
        #expect("\(refused.map { "\($0)" } ?? "")".contains("still mount its data; nothing was deleted"))
        _ = try await deployer.remove(world.app())
        let snapshots = try await deployer.removeData(world.app())
        #expect(snapshots == 2)
        #expect(try world.runtime.store.snapshots(app: "hello").isEmpty)
        #expect(await world.host.dataSteps(app: "hello").isEmpty == false, "the volume is gone: a deploy makes it again")
    }

    @Test(.enabled(if: isRoot, "needs root for the CLI's root check"))
    func removeDataWithoutYesRemovesNothingAndSaysWhatItWouldDelete() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLITests.binary), "build the jailpilot binary first")
        let state = try Scratch("remove-data")
        let config = try state.write(
            "agent.conf",
            "[agent]\nplatform = \"linux\"\nstate_dir = \"\(state.path)/state\"\nlog_file = \"\"\nbuild_sandbox = false\n"
                + "[apps.hello]\nrepo = \"https://forge.example/hello.git\"\nhostnames = [\"hello.localhost\"]\ndata = \"/var/db/hello\"\n"
        )
        let result = try await HostProcessRunner().run(
            Command(CLITests.binary, ["remove", "-c", config, "hello", "--data"]), timeout: .seconds(60))
        #expect(result.status == 1)
        #expect(
            result.stderrText.contains(
                "remove --data deletes hello's data volume (/var/db/hello in its jails) and every snapshot of it, for good; nothing was removed. Run it again with --yes"
            ), "\(result.stderrText)")
    }

    // Regression: two kept releases of one commit (different env) printed identically.
    @Test func keptReleasesOfOneCommitAreToldApartByTheirDigest() async throws {
        let world = try MemoryWorld(apps: [("hello", "keep = 3\nenv = { MODE = \"a\" }")])
        defer { world.tearDown() }
        try await world.push(1)
        let second = try world.reopened(apps: [("hello", "keep = 3\nenv = { MODE = \"b\" }")])
        _ = try await second.deployer.deploy(second.app(), sha: MemoryWorld.sha(1))
        let third = try world.reopened(apps: [("hello", "keep = 3\nenv = { MODE = \"c\" }")])
        _ = try await third.deployer.deploy(third.app(), sha: MemoryWorld.sha(1))
        let status = try await AppStatus.collect(third.app(), store: third.runtime.store)
        let kept = status.kept.map { "\($0.sha.prefix(12))_\($0.env)" }
        #expect(status.kept.count == 2 && Set(kept).count == 2, "\(kept)")
        #expect(status.text.contains("kept      \(kept[0]) ("), "\(status.text)")
    }

    // Regression: `status` said "because manual" after a rollback or resume, where `history`
    // said rollback and resume.
    @Test func statusSaysWhyTheLiveReleaseIsLiveAsHistoryDoes() async throws {
        let world = try MemoryWorld(apps: [("hello", "keep = 3")])
        defer { world.tearDown() }
        for n in 1...2 { try await world.push(n) }
        _ = try await world.deployer.rollback(world.app())
        #expect(try await AppStatus.collect(world.app(), store: world.runtime.store).cause == "rollback")
        _ = try await world.deployer.resume(world.app())
        #expect(try await AppStatus.collect(world.app(), store: world.runtime.store).cause == "resume")
    }

    // Regression: the quickstart host failed doctor's free-space check without the limit.
    @Test(.enabled(if: isRoot && have("mount"), "needs root to mount a small tmpfs"))
    func theFreeSpaceCheckNamesTheLimitAndHowMuchToFree() async throws {
        let scratch = try Scratch("space")
        let dir = "\(scratch.path)/small"
        try FileIO.makeDirectories(dir)
        _ = try await sh(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", dir])
        defer { _ = try? FileManager.default.removeItem(atPath: "\(dir)/.x") }
        let check = HostSpace.check(dir, name: "state_dir space")
        _ = try? await sh(["umount", dir])
        #expect(!check.ok)
        #expect(check.detail.contains("free at \(dir), below the 1GiB a deploy needs"), "\(check.detail)")
        #expect(check.fix?.hasPrefix("free at least ") == true, "\(String(describing: check.fix))")
    }
}
