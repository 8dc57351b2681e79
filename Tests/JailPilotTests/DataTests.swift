import Foundation
import JailPilot
import Testing

/// An app's persistent data and its release step, end to end on the Linux driver: one volume
/// for every release, a snapshot before each, `rollback --with-data`, and a release step that
/// can fail a release or keep probation from flipping back.
@Suite(.serialized, .enabled(if: canDeploy, "needs root, caddy, go, btrfs-progs and iproute2"))
struct DataTests {
    static let config = """
        data = "/var/db/hello"
        release = ["/usr/local/bin/hello", "migrate"]
        env = { LOG_LEVEL = "debug" }
        keep = 1
        """
    var volume: String { "\(E2EHost.mountpoint)/data/hello" }
    func snapshotPath(_ name: String) -> String { "\(E2EHost.mountpoint)/data/.snapshots/hello@\(name)" }

    @Test func dataOutlivesReleasesAndRollbackWithDataPutsItBack() async throws {
        try await E2EWorld.with(appExtra: Self.config) { world in
            let store = world.runtime.store
            let one = try await world.repo.commitProber("one")
            let first = try await world.deployer.deploy(world.app).release
            // The release step ran in the new jail, as nobody, with the app's environment and data.
            #expect(await world.getFromLive("/data?file=migrations") == "\(one.prefix(12)) uid=65534 level=debug\n")
            #expect(await world.getFromLive("/env?name=JAILPILOT_DATA") == "JAILPILOT_DATA=/var/db/hello\n")
            #expect(await world.getFromLive("/put?file=notes&text=v1") == "stored")
            let info = try FileManager.default.attributesOfItem(atPath: volume)
            #expect((info[.ownerAccountID] as? Int) == 65534 && (info[.posixPermissions] as? Int) == 0o700)
            let log = try String(
                contentsOfFile: "\(E2EHost.mountpoint)/containers/\(first.name)/var/log/hello.log", encoding: .utf8)
            #expect(log.contains("migrated to \(one)") && log.contains("jailpilot: release step"), "\(log)")
            let firstSnapshot = try #require(try store.snapshots(app: "hello").first)
            #expect(firstSnapshot.releaseID == first.id && firstSnapshot.holdsID == nil)
            #expect(FileIO.exists(snapshotPath(firstSnapshot.name)))

            // The next release sees the same data; its snapshot holds the data as `first` left it.
            let two = try await world.repo.commitProber("two")
            let second = try await world.deployer.deploy(world.app).release
            #expect(await world.getFromLive("/data?file=notes") == "v1")
            #expect(
                await world.getFromLive("/data?file=migrations")
                    == "\(one.prefix(12)) uid=65534 level=debug\n\(two.prefix(12)) uid=65534 level=debug\n")
            let secondSnapshot = try #require(try store.snapshots(app: "hello").last)
            #expect(secondSnapshot.releaseID == second.id && secondSnapshot.holdsID == first.id)
            #expect(await world.getFromLive("/put?file=notes&text=v2") == "stored")
            let status = try await AppStatus.collect(world.app, store: store)
            #expect(
                status.text.contains(
                    "data      /var/db/hello: 2 snapshots, newest \(secondSnapshot.name); release step: /usr/local/bin/hello migrate"
                ),
                "\(status.text)")

            // rollback --with-data: says what is lost, then puts back the data `first` left.
            let plan = try await world.deployer.dataRollbackPlan(world.app, to: String(one.prefix(8)))
            #expect(plan.target.id == first.id && plan.snapshot == secondSnapshot && plan.newer.isEmpty)
            #expect(plan.describe(app: world.app).contains("everything written to /var/db/hello since"))
            let back = try await world.deployer.rollbackWithData(world.app, plan: plan)
            #expect(back.release.id == first.id)
            #expect(await world.getFromLive("/data?file=notes") == "v1")
            #expect(await world.getFromLive("/data?file=migrations") == "\(one.prefix(12)) uid=65534 level=debug\n")
            #expect(await world.fetch() == "one")
            #expect(try store.holdSHA(app: "hello") == one)

            // A plain rollback leaves the data alone.
            _ = try await world.deployer.rollback(world.app, to: String(two.prefix(8)))
            #expect(await world.fetch() == "two")
            #expect(await world.getFromLive("/data?file=notes") == "v1")

            // Snapshots go with the releases they belong to (keep = 1).
            _ = try await world.deployer.resume(world.app)
            _ = try await world.repo.commitProber("three")
            _ = try await world.deployer.deploy(world.app)
            _ = try await world.repo.commitProber("four")
            _ = try await world.deployer.deploy(world.app)
            #expect(try store.release(id: first.id)?.state == .destroyed && store.release(id: second.id)?.state == .destroyed)
            let kept = Set(try store.releases(app: "hello").filter { $0.state.hasJail }.map(\.id))
            let left = try store.snapshots(app: "hello")
            #expect(!left.isEmpty)
            for snapshot in left {
                #expect(kept.contains(snapshot.releaseID) || snapshot.holdsID.map(kept.contains) == true, "\(snapshot)")
                #expect(FileIO.exists(snapshotPath(snapshot.name)))
            }
            let onHost = try FileManager.default.contentsOfDirectory(atPath: "\(E2EHost.mountpoint)/data/.snapshots").filter {
                $0.hasPrefix("hello@")
            }
            #expect(Set(onHost) == Set(left.map { "hello@\($0.name)" }), "the host keeps exactly the recorded snapshots")
            #expect(!FileIO.exists(snapshotPath(firstSnapshot.name)), "destroyed with the releases it belonged to")
            #expect(!FileIO.exists(snapshotPath(secondSnapshot.name)))
        }
    }

    @Test func aFailingOrHangingReleaseStepFailsTheReleaseAndLeavesTheLiveOneServing() async throws {
        try await E2EWorld.with(appExtra: Self.config) { world in
            let store = world.runtime.store
            _ = try await world.repo.commitProber("one")
            let live = try await world.deployer.deploy(world.app).release
            let bad = try await world.repo.commitProber("two")
            var app = world.app
            app.release = ["/usr/local/bin/hello", "fail"]
            let failed = await Result { try await world.deployer.deploy(app) }
            guard case .failure(let error as DeployError) = failed, case .failed(_, _, let step, let reason, let log) = error
            else {
                Issue.record("expected a failed release, got \(failed)")
                return
            }
            #expect(step == "release step")
            #expect(reason.contains("exited with status 3") && reason.contains("snapshot \(bad.prefix(12))-"), "\(reason)")
            #expect(reason.contains("jailpilot rollback hello --with-data --to \(live.sha.prefix(12))"), "\(reason)")
            let kept = try String(contentsOfFile: try #require(log), encoding: .utf8)
            #expect(kept.contains("migration failed: boom"), "the step's output is in the release's log: \(kept)")
            #expect(try store.quarantineReason(app: "hello", sha: bad) != nil)
            #expect(try store.live(app: "hello")?.id == live.id)
            #expect(await world.fetch() == "one")

            app.release = ["/usr/local/bin/hello", "sleep"]
            app.releaseTimeout = .seconds(1)
            _ = try await world.repo.commitProber("three")
            let clock = ContinuousClock()
            let start = clock.now
            let hung = await Result { try await world.deployer.deploy(app) }
            #expect("\(hung)".contains("did not finish within release_timeout (1s) and was killed"), "\(hung)")
            #expect(clock.now - start < .seconds(60))
            #expect(await world.fetch() == "one")
            let ps = try await HostProcessRunner().run(Command("ps", ["-eww", "-o", "args"])).stdoutText
            #expect(!ps.contains("/usr/local/bin/hello sleep"), "the timed-out step was killed")
        }
    }

    @Test func probationFailingAfterAReleaseStepHoldsInsteadOfFlippingBack() async throws {
        try await E2EWorld.with(appExtra: Self.config, probation: "5s") { world in
            let store = world.runtime.store
            _ = try await world.repo.commitProber("one")
            let first = try await world.deployer.deploy(world.app).release
            let sick = try await world.repo.commitProber("sick", failAfterMs: 2500)
            let outcome = await Result { try await world.deployer.deploy(world.app) }
            guard case .failure(let error as DeployError) = outcome, case .held(_, let sha, _, let snapshot) = error else {
                Issue.record("expected a held release, got \(outcome)")
                return
            }
            #expect(sha == sick)
            #expect(snapshot?.hasPrefix(String(sick.prefix(12))) == true)
            #expect("\(error)".contains("NOT flipped back") && "\(error)".contains("--with-data"), "\(error)")
            #expect(try store.live(app: "hello")?.sha == sick, "the migrated release stays live")
            let previous = try store.release(id: first.id)
            #expect(previous?.state == .standby, "the previous release still runs, a flip away")
            let events = try String(contentsOfFile: "\(world.state.path)/agent.log", encoding: .utf8)
            #expect(events.contains("probation.held") && !events.contains("release.reverted"))
        }
    }
}

/// The FreeBSD driver on the stand-in: the data dataset made and marked, nullfs-mounted by
/// jail.conf, snapshotted before start; the release step through jexec and chroot(8) as nobody,
/// writing into the dataset; and `zfs rollback -r` putting it back.
@Suite(.serialized, .enabled(if: canStandIn, "needs root, python3, go, setpriv and bwrap"))
struct FreeBSDDataTests {
    @Test func theReleaseStepWritesIntoTheAppsDatasetAndRollbackWithDataRestoresIt() async throws {
        try await FreeBSDWorld.with(appExtra: DataTests.config) { world in
            let one = try await world.repo.commitProber("one")
            let first = try await world.deployer.deploy(world.app).release
            let data = "\(world.standIn.mountpoint)/data/hello"
            #expect(
                try String(contentsOfFile: "\(data)/migrations", encoding: .utf8) == "\(one.prefix(12)) uid=65534 level=debug\n")
            let calls = world.standIn.lock.withLock { world.standIn.calls }
            #expect(calls.contains { $0.hasPrefix("zfs create -o 'jailpilot:owner=") && $0.hasSuffix(" zroot/jails/data/hello") })
            #expect(calls.contains { $0.hasPrefix("zfs snapshot zroot/jails/data/hello@\(one.prefix(12))-") })
            #expect(calls.contains { $0.hasPrefix("jexec -U root \(first.name) /usr/bin/env -i") })
            let conf = try #require(world.standIn.lock.withLock { world.standIn.created.last })
            #expect(conf["mount"] == "\(data) \(world.standIn.mountpoint)/containers/\(first.name)/var/db/hello nullfs rw 0 0")

            let two = try await world.repo.commitProber("two")
            _ = try await world.deployer.deploy(world.app)
            #expect(
                try String(contentsOfFile: "\(data)/migrations", encoding: .utf8)
                    == "\(one.prefix(12)) uid=65534 level=debug\n\(two.prefix(12)) uid=65534 level=debug\n")
            let plan = try await world.deployer.dataRollbackPlan(world.app, to: String(one.prefix(8)))
            let back = try await world.deployer.rollbackWithData(world.app, plan: plan)
            #expect(back.release.id == first.id)
            #expect(
                try String(contentsOfFile: "\(data)/migrations", encoding: .utf8) == "\(one.prefix(12)) uid=65534 level=debug\n")
            let after = world.standIn.lock.withLock { world.standIn.calls }
            #expect(after.contains("zfs rollback -r zroot/jails/data/hello@\(plan.snapshot.name)"))
        }
    }

    /// `remove --data`: `zfs destroy -r` of the app's dataset takes its snapshots along
    /// (zfs-destroy(8)), after the releases that mounted it are gone.
    @Test func removeDataDestroysTheDatasetAndItsSnapshots() async throws {
        try await FreeBSDWorld.with(appExtra: DataTests.config) { world in
            try await world.repo.commitProber("one")
            _ = try await world.deployer.deploy(world.app)
            let data = "\(world.standIn.mountpoint)/data/hello"
            #expect(FileIO.exists(data))
            let deployer = try world.deployer
            _ = try await deployer.remove(world.app)
            let snapshots = try await deployer.removeData(world.app)
            #expect(snapshots == 1)
            let calls = world.standIn.lock.withLock { world.standIn.calls }
            #expect(calls.contains("zfs destroy -r zroot/jails/data/hello"), "\(calls.filter { $0.hasPrefix("zfs destroy") })")
            #expect(!FileIO.exists(data))
            #expect(try world.runtime.store.snapshots(app: "hello").isEmpty)
        }
    }
}
