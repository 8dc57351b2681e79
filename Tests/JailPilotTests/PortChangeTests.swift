import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// A `port` change (#33): it was ignored ("already live"), and a forced release moved Caddy's
/// upstream port before the new release was live (10 of 150 requests got 502). A release now
/// carries its port, the route follows the release, and a port change alone is a new release.
@Suite struct PortChangeTests {
    @Test func thePortIsPartOfTheReleasesIdentityAndTheDefaultKeepsOldNames() throws {
        let state = try Scratch("port-identity")
        let layout = StateLayout(root: state.path)
        func digest(_ port: Int?) throws -> String {
            var conf = TestAgentConf(stateDir: state.path)
            var app = TestAgentConf.App("hello", repo: "https://e.example/h.git")
            app.port = port
            conf.apps = [app]
            return try AppEnvironment.resolve(try #require(try conf.parsed(file: "p.conf").app("hello")), layout: layout).digest
        }
        #expect(try digest(nil) == "" && digest(8080) == "", "the default port: release names as before")
        #expect(try digest(9090).count == 8 && digest(9090) != digest(9091))
    }

    /// A kept release is started, health-checked and routed on the port it was made with.
    @Test func aReleaseKeepsItsPortAndARollbackGoesBackToIt() async throws {
        let world = try MemoryWorld(apps: [("hello", "")])
        defer { world.tearDown() }
        try await world.push(1)
        let first = try #require(try world.runtime.store.live(app: "hello"))
        #expect(first.port == 8080)
        var conf = world.conf
        conf.apps[0].port = 9090
        let moved = try world.reopened(with: conf)
        let second = try await moved.deployer.deploy(moved.app(), sha: MemoryWorld.sha(1)).release
        #expect(second.sha == first.sha && second.name != first.name && second.port == 9090)
        #expect(moved.runtime.routed(moved.runtime.config.apps).first?.port == 9090)
        let back = try await moved.deployer.rollback(moved.app()).release
        #expect(back.id == first.id)
        #expect(JailSpec(release: back, app: moved.app(), layout: moved.runtime.layout).port == 8080)
        #expect(moved.runtime.routed(moved.runtime.config.apps).first?.port == 8080, "the route follows the release")
    }

    @Test(.enabled(if: canDeploy, "needs root, caddy, go, btrfs-progs and iproute2"))
    func aPortChangeUnderLoadFailsNoRequestOnLinux() async throws {
        try await E2EWorld.with { world in
            let sha = try await world.repo.commitHello("on a port")
            let first = try await world.deployer.deploy(world.app).release
            let load = LoadRun(front: world.frontPort, host: "hello.localhost")
            try await Task.sleep(for: .milliseconds(500))
            var conf = world.conf
            conf.apps[0].port = 9090
            try FileIO.replace(world.configPath, text: conf.text)
            let runtime = try Runtime(config: try conf.parsed(file: "port.conf"), echo: false)
            let second = try await runtime.deployer().deploy(try #require(runtime.config.app("hello"))).release
            try await Task.sleep(for: .milliseconds(500))
            // And back: a rollback routes the old release on its old port.
            let back = try await runtime.deployer().rollback(try #require(runtime.config.app("hello"))).release
            try await Task.sleep(for: .milliseconds(500))
            let result = await load.stop()
            #expect(second.sha == sha && second.name != first.name && second.port == 9090)
            #expect(back.id == first.id)
            #expect(await world.fetch() == "on a port")
            #expect(result.failed.isEmpty, "\(result.failed) of \(result.total) requests failed")
            #expect(result.total > 20, "\(result.total) requests")
        }
    }
}
