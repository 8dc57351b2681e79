import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// Jail names are global on a host: a state_dir creates over, stops or destroys nothing it did
/// not make, an empty store over existing jails is not "fresh", and what a crash leaves behind
/// is found and removed (root, like the deploy tests).
@Suite(.serialized, .enabled(if: canDeploy, "needs root, caddy, go, btrfs-progs and iproute2"))
struct OwnershipTests {
    /// A second state_dir on the same host, with the world's config otherwise.
    func neighbour(_ world: E2EWorld, stateDir: String) throws -> Runtime {
        var conf = world.conf
        conf.stateDir = stateDir
        conf.logFile = "\(stateDir)/agent.log"
        return try Runtime(config: try conf.parsed(file: "\(stateDir)/agent.conf"), echo: false)
    }

    @Test func anotherStateDirCannotCreateOverOrDestroyALiveJail() async throws {
        try await E2EWorld.with { world in
            let v1 = try await world.repo.commitHello("first owner")
            _ = try await world.deployer.deploy(world.app)
            let other = try Scratch("neighbour")
            let runtime = try neighbour(world, stateDir: other.path)
            let error = await #expect(throws: NotOwnedError.self) {
                try await runtime.deployer().deploy(world.app, sha: v1)
            }
            #expect(error?.description.contains(world.state.path) == true, "\(String(describing: error))")
            #expect(try runtime.store.quarantineReason(app: "hello", sha: v1) == nil, "a host conflict is not the commit's fault")
            let name = ReleaseName(app: "hello", sha: v1).text
            #expect(FileManager.default.fileExists(atPath: "/run/netns/\(name)"))
            #expect(await world.fetch() == "first owner")

            let host = try runtime.jailHost()
            await #expect(throws: NotOwnedError.self) { try await host.destroy(JailSpec(found: name, service: "hello")) }
            await #expect(throws: NotOwnedError.self) { try await host.stop(JailSpec(found: name, service: "hello")) }
            #expect(await world.fetch() == "first owner")
        }
    }

    @Test func anEmptyStoreOverLiveJailsIsRefusedNotTreatedAsFresh() async throws {
        try await E2EWorld.with { world in
            let v1 = try await world.repo.commitHello("kept safe")
            _ = try await world.deployer.deploy(world.app)
            // state.db lost or truncated; the state_dir's identity is still there.
            let wiped = try Scratch("wiped")
            try FileIO.replace(
                "\(wiped.path)/owner", text: try String(contentsOfFile: "\(world.state.path)/owner", encoding: .utf8))
            let runtime = try neighbour(world, stateDir: wiped.path)
            let error = await #expect(throws: StoreLostError.self) { try await runtime.deployer().deploy(world.app, sha: v1) }
            #expect(error?.description.contains(ReleaseName(app: "hello", sha: v1).text) == true)
            #expect(error?.description.contains("Restore state.db") == true)
            // Start-up recovery's sweep refuses too, instead of removing "unknown" jails.
            await #expect(throws: StoreLostError.self) { try await runtime.deployer().sweepOrphans() }
            #expect(await world.fetch() == "kept safe")
            #expect(try world.runtime.store.live(app: "hello")?.sha == v1)
        }
    }

    /// The owner marker in each release carries the commit mark; a store put back from an older
    /// backup gets the newer one back from the host at start, as the agent's recovery does.
    @Test func aRestoredStoreGetsTheCommitMarkBackFromTheReleasesOwnerMarkers() async throws {
        try await E2EWorld.with { world in
            let v1 = try await world.repo.commitHello("one")
            _ = try await world.deployer.deploy(world.app, sha: v1, cause: "push")
            let copy = try Scratch("restored")
            try world.runtime.store.backup(to: "\(copy.path)/state.db")
            let v2 = try await world.repo.commitHello("two")
            let second = try await world.deployer.deploy(world.app, sha: v2, cause: "push").release
            let marker = try String(
                contentsOfFile: "\(E2EHost.mountpoint)/containers/\(second.name)/.jailpilot-owner", encoding: .utf8)
            #expect(marker.contains("mark=\(v2)/2"), "\(marker)")
            try FileIO.replace(
                "\(copy.path)/owner", text: try String(contentsOfFile: "\(world.state.path)/owner", encoding: .utf8))
            let restored = try neighbour(world, stateDir: copy.path)
            #expect(try restored.store.mark(app: "hello") == CommitMark(sha: v1, generation: 1))
            #expect(await (try restored.deployer()).recoverMarks() == ["hello"])
            #expect(try restored.store.mark(app: "hello") == CommitMark(sha: v2, generation: 2))
            #expect(await world.fetch() == "two", "nothing was touched")
        }
    }

    @Test func orphanedJailsAreSweptAndTheirAddressesNeverHandedOut() async throws {
        try await E2EWorld.with { world in
            _ = try await world.repo.commitHello("one")
            let live = try await world.deployer.deploy(world.app).release
            // A jail of ours that the store has no record of (what a stop cut short leaves),
            // holding the address the store would hand out next.
            let pool = AddressPool(network: world.runtime.config.jails.network, store: world.runtime.store)
            let taken = try pool.allocate()
            let host = try world.runtime.jailHost()
            let orphan = JailSpec(
                app: world.app, sha: String(repeating: "ab", count: 20), address: taken,
                artifact: world.runtime.layout.artifact(world.app, live.sha))
            try await host.provision(orphan)
            try await host.start(orphan)
            #expect(await host.addressesInUse().contains(taken))

            _ = try await world.repo.commitHello("two")
            let next = try await world.deployer.deploy(world.app).release
            #expect(next.address != taken, "the pool handed out an address a jail holds")
            #expect(await world.fetch() == "two")

            try await world.deployer.sweepOrphans()
            #expect(!FileManager.default.fileExists(atPath: "/run/netns/\(orphan.name)"))
            #expect(!FileManager.default.fileExists(atPath: "\(E2EHost.mountpoint)/containers/\(orphan.name)"))
            #expect(await world.fetch() == "two")
            let log = (try? String(contentsOfFile: "\(world.state.path)/agent.log", encoding: .utf8)) ?? ""
            #expect(log.contains("event=orphan.removed"))
        }
    }
}

/// Owner markers and what the drivers read back, without a host.
@Suite struct OwnerMarkerTests {
    @Test func markersRoundTripAndForeignTextIsNoOwner() {
        let owner = OwnerID(id: "0123456789abcdef", stateDir: "/var/db/with space")
        #expect(OwnerID.parse(marker: owner.marker) == owner)
        #expect(OwnerID.parse(marker: "-") == nil)
        #expect(OwnerID.parse(marker: "id=xyz state_dir=/x") == nil)
        let mark = CommitMark(sha: String(repeating: "ab", count: 20), generation: 7)
        #expect(OwnerID.parse(marker: owner.marker(mark)) == owner, "a mark does not change whose it is")
        #expect(OwnerID.mark(inMarker: owner.marker(mark)) == mark)
        #expect(OwnerID.mark(inMarker: owner.marker) == nil)
        for bad in ["mark=abc/1", "mark=\(mark.sha)/0", "mark=\(mark.sha)/x", "mark=\(mark.sha)", "mark=/1/2"] {
            #expect(OwnerID.mark(inMarker: owner.marker + " " + bad) == nil, "\(bad)")
        }
    }

    @Test func identityIsCreatedOnceAndKept() throws {
        let scratch = try Scratch("owner")
        let first = try OwnerID.load(stateDir: scratch.path)
        #expect(try OwnerID.load(stateDir: scratch.path) == first)
        #expect(try OwnerID.load(stateDir: try Scratch("owner").path).id != first.id)
    }

    @Test func releaseNamesAreRecognised() {
        #expect(ReleaseName(parsing: "hello_0123456789ab") != nil)
        #expect(ReleaseName(parsing: "my_app_0123456789ab") != nil)
        #expect(ReleaseName(parsing: "hello_0123456789") == nil)
        #expect(ReleaseName(parsing: "cni-1234") == nil)
    }
}
