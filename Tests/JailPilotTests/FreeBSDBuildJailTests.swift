import Foundation
import JailPilot
import Testing

/// FreeBSD builds run in a build jail cloned from the build template, through the real Builder
/// and Deployer against the FreeBSD stand-in, whose jexec(8) chroots into the clone with the
/// jail.conf's nullfs mounts (bubblewrap): the build sees the clone, its tree and its caches.
@Suite(.serialized, .enabled(if: canStandIn, "needs root, python3, go, setpriv and bwrap"))
struct FreeBSDBuildJailTests {
    typealias Canary = BuildSandboxTests.Canary

    /// Builds the world's hello app once; the error text ("" on success) and the build log.
    func build(_ world: FreeBSDWorld) async -> (error: String, log: String) {
        var text = ""
        do { _ = try await SourcePipeline(runtime: world.runtime).build(world.app) } catch { text = "\(error)" }
        let logs = world.runtime.layout.logs("hello")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: logs)) ?? []
        return (text, names.compactMap { try? String(contentsOfFile: "\(logs)/\($0)", encoding: .utf8) }.joined())
    }

    /// Nothing of a build jail is left: no clone, no jail, no jail.conf, no staging directory.
    func expectNoBuildJail(_ world: FreeBSDWorld, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(
            world.standIn.buildDatasets.isEmpty, "clones left: \(world.standIn.buildDatasets)", sourceLocation: sourceLocation)
        #expect(!world.standIn.jailNames.contains { $0.hasPrefix("jailpilot_build_") }, sourceLocation: sourceLocation)
        let staging = (try? FileManager.default.contentsOfDirectory(atPath: world.runtime.layout.staging)) ?? []
        #expect(staging.filter { $0 != "addresses" }.isEmpty, "left in staging: \(staging)", sourceLocation: sourceLocation)
    }

    @Test func aDeployBuildsInAJailClonedFromTheBuildTemplateAndRemovesIt() async throws {
        try await FreeBSDWorld.with { world in
            let release = try await world.deployed("built in a jail")
            #expect(await world.fetch(release) == "built in a jail")
            let calls = world.standIn.lock.withLock { world.standIn.calls }
            #expect(
                calls.contains {
                    $0.hasPrefix("zfs clone") && $0.contains("zroot/jails/templates/build@base zroot/jails/builds/")
                })
            // 14.3's jexec has no -d (the stand-in refuses it, as jexec's getopt does): a fixed sh
            // program changes into the tree.
            #expect(
                calls.contains {
                    $0.hasPrefix("jexec -u jailpilot-build jailpilot_build_hello_") && $0.contains(" jailpilot-cd /")
                })
            expectNoBuildJail(world)
            let log = try String(contentsOfFile: world.runtime.layout.buildLog("hello", release.sha), encoding: .utf8)
            #expect(log.contains("# sandbox: jexec"), "the build log names the jail the build ran in")
        }
    }

    @Test func aHostFileIsNotThereForAnIncludeOrAReplaceDirective() async throws {
        try await FreeBSDWorld.with { world in
            let canary = try Canary()
            try await BuildSandboxTests.includeAttack(canary, in: world.repo)
            let include = await build(world)
            #expect(include.error.contains("failed"), "\(include.error)")
            #expect(include.log.contains("no such file or directory") || include.log.contains("not found"), "\(include.log)")
            try await BuildSandboxTests.replaceAttack(canary, in: world.repo)
            let replace = await build(world)
            #expect(replace.error.contains("failed"), "\(replace.error)")
            let artifacts = world.runtime.layout.root + "/artifacts"
            let files = ((try? FileManager.default.subpathsOfDirectory(atPath: artifacts)) ?? []).map { "\(artifacts)/\($0)" }
            canary.expectAbsent(in: [include.error, include.log, replace.error, replace.log], files: files)
            expectNoBuildJail(world)
        }
    }

    @Test func withoutBuildNetworkTheJailHasNoIPv4AndReachesNothing() async throws {
        let listener = try TCPRecorder()
        try await FreeBSDWorld.with(
            appExtra: """
                build = ["curl", "-s", "-m", "3", "-o", "{out}", "http://127.0.0.1:\(listener.port)/"]
                build_network = false
                """
        ) { world in
            try await world.repo.commit(["x": "1"])
            let (error, _) = await build(world)
            #expect(error.contains("failed"), "\(error)")
            #expect(listener.accepted == 0, "the build reached the host")
            let made = try #require(world.standIn.lock.withLock { world.standIn.created.last })
            #expect(made["ip4"] == "disable" && made["ip4.addr"] == nil && made["interface"] == nil)
            expectNoBuildJail(world)
        }
    }

    @Test func aFailingBuildStillRemovesItsJail() async throws {
        try await FreeBSDWorld.with(appExtra: "build = [\"sh\", \"-c\", \"sleep 30 & exit 3\", \"{out}\"]") { world in
            try await world.repo.commit(["x": "1"])
            let (error, _) = await build(world)
            #expect(error.contains("status 3") || error.contains("exit 3") || error.contains("failed"), "\(error)")
            expectNoBuildJail(world)
        }
    }

    @Test func aMissingBuildTemplateSaysToRunTheBootstrap() async throws {
        try await FreeBSDWorld.with { world in
            world.standIn.lock.withLock { _ = world.standIn.snapshots.removeValue(forKey: "zroot/jails/templates/build@base") }
            try await world.repo.commitHello()
            let (error, _) = await build(world)
            #expect(error.contains("zroot/jails/templates/build@base"), "\(error)")
            #expect(error.contains("bootstrap-freebsd-host"), "\(error)")
            expectNoBuildJail(world)
        }
    }

    @Test func theAgentReclaimsABuildJailACrashLeftBehind() async throws {
        try await FreeBSDWorld.with { world in
            let jail = try #require(try world.runtime.buildConfinement() as? FreeBSDBuildJail)
            let builder = SourcePipeline(runtime: world.runtime).builder
            let (_, scope) = builder.job(world.app, sha: String(repeating: "a", count: 40), id: "hello-aaaaaaaaaaaa-crashed0")
            for dir in scope.writable { try FileIO.makeDirectories(dir) }
            // A build that was running when the agent died: its jail, clone and mounts are there.
            try await jail.prepare(scope)
            #expect(world.standIn.buildDatasets.count == 1)
            let reclaimed = await builder.reclaimAbandoned()
            #expect(reclaimed == ["hello-aaaaaaaaaaaa-crashed0"])
            expectNoBuildJail(world)
        }
    }

    @Test func concurrentBuildsEachHoldTheirOwnAddress() async throws {
        try await FreeBSDWorld.with { world in
            var jail = try #require(try world.runtime.buildConfinement() as? FreeBSDBuildJail)
            jail.parallelBuilds = 2
            let network = world.runtime.config.jails.network
            let scopes = (1...3).map { BuildScope(id: "hello-\($0)", writable: [], network: true) }
            let first = try jail.lease(scopes[0])
            let second = try jail.lease(scopes[1])
            #expect(Set([first, second]) == Set(FreeBSDBuildJail.addresses(in: network, count: 2)))
            #expect(throws: BuildJailError.self) { try jail.lease(scopes[2]) }
            try await jail.teardown(scopes[0])
            #expect(try jail.lease(scopes[2]) == first, "a finished build's address is free again")
            try await jail.teardown(scopes[1])
            try await jail.teardown(scopes[2])
            let pool = AddressPool(config: world.runtime.config, store: world.runtime.store)
            #expect(pool.reserved == Set(FreeBSDBuildJail.addresses(in: network, count: 1)), "never given to a release")
        }
    }
}
