import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// Routes and the jails' policy are derived from every app the host serves now, whichever
/// app's deploy writes them: a watcher started before a reload must not write them from the
/// config it started with.
@Suite struct ServedAppsTests {
    func config(_ state: String, apps: String) throws -> AgentConfig {
        try ConfigLoader.parse(
            """
            [agent]
            platform = "freebsd"
            state_dir = "\(state)"
            [jails]
            network = "10.77.0.0/24"
            \(apps)
            """, file: "\(state)/agent.conf")
    }

    func app(_ name: String, reach: String = "") -> String {
        "[apps.\(name)]\nrepo = \"https://forge.example/\(name).git\"\nhostnames = [\"\(name).localhost\"]\n"
            + (reach.isEmpty ? "" : "reach = [\"\(reach)\"]\n")
    }

    /// A live release of `app` on `address`, made through the store's legal moves.
    func live(_ store: StateStore, _ app: String, _ address: String) throws {
        var release = try store.seedRelease(
            app: app, sha: String(repeating: "b", count: 40), state: .built, address: address)
        for state in [ReleaseState.provisioned, .starting, .healthy] { release = try store.update(release, state: state) }
        _ = try store.flip(to: release, from: nil)
    }

    @Test func aDeployerMadeBeforeAReloadSeesTheAppsAddedAndKeepsTheRemovedOnesThatRun() throws {
        let scratch = try Scratch("served")
        let runtime = try Runtime(config: try config(scratch.path, apps: app("a") + app("c")), echo: false)
        try live(runtime.store, "a", "10.77.0.2")
        try live(runtime.store, "b", "10.77.0.3")
        try live(runtime.store, "c", "10.77.0.4")
        // The watcher of `a`, started at agent start; `a` does not change in the reload below.
        let watcher = Deployer(runtime: runtime, host: try runtime.jailHost(), router: NoProxy())

        // The reload adds `b`, which may reach `a`, and removes `c`, whose release still runs.
        let reloaded = runtime.with(config: try config(scratch.path, apps: app("a") + app("b", reach: "app:a")))
        let c = try #require(runtime.config.app("c"))
        reloaded.served.replace(with: reloaded.config.apps + [c])  // what the agent does on reload

        let policy = try watcher.networkPolicy()
        // Regression: the watcher wrote the policy from its own config, so `b` lost its opening.
        #expect(policy.reach["b"] == [.app("a")])
        #expect(policy.members.map(\.app) == ["a", "b", "c"], "a removed app's running release stays in the policy")
        #expect(
            policy.pf(network: reloaded.config.jails.network, bridge: "jailpilot0", mode: .vnet).contains(
                "from 10.77.0.3 to 10.77.0.2 port"))
    }
}
