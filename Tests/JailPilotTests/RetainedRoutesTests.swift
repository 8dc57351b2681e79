import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// An app taken out of agent.conf that still has a live release keeps being served — its Caddy
/// route and its place in the jails' network policy — by whichever process writes them next:
/// the agent after a restart, or a CLI deploy of another app. In-memory drivers, no root.
@Suite struct RetainedRoutesTests {
    static let apps = [("hello", ""), ("api", "reach = [\"host:5432\"]")]

    // Regression: the served set was agent.conf's apps plus those the running agent had seen
    // removed, so a restarted agent or a CLI deploy wrote routes and policy without `api`.
    @Test func aRemovedAppsLiveReleaseKeepsItsRouteAndPolicyAfterARestartOrACLIDeploy() async throws {
        let world = try MemoryWorld(apps: Self.apps)
        defer { world.tearDown() }
        try await world.push(1, app: "hello")
        let api = try await world.push(1, app: "api").release
        #expect(world.router.routedApps == ["api", "hello"], "agent.conf's order (by name)")

        // `api` leaves agent.conf; the next process (a restarted agent, `jailpilot deploy hello`) knows only hello.
        let after = try world.reopened(apps: [("hello", "")])
        #expect(after.runtime.served.all.map(\.name) == ["hello", "api"], "served: agent.conf's apps, then the removed live one")
        try await after.push(2, app: "hello")
        #expect(world.router.routedApps == ["hello", "api"], "api's route stays while its release is live")
        #expect(world.router.hostnames["api"] == ["api.localhost"])
        let policy = try #require(world.host.policy)
        #expect(policy.members.contains { $0.app == "api" && $0.address == api.address }, "\(policy.members)")
        #expect(policy.reach["api"] == [.host(port: 5432)], "its openings stay what they were")

        // `jailpilot remove api` works without agent.conf naming it, and then its route goes.
        let removable = try after.runtime.removableApp("api")
        #expect(removable.hostnames == ["api.localhost"] && removable.port == 8080)
        _ = try await after.deployer.remove(removable)
        let last = try world.reopened(apps: [("hello", "")])
        #expect(last.runtime.served.all.map(\.name) == ["hello"])
        try await last.push(3, app: "hello")
        #expect(world.router.routedApps == ["hello"])
        #expect(throws: UnknownAppError.self) { try last.runtime.removableApp("api") }
    }

    @Test func anAppBackInAgentConfIsServedWithItsNewSettings() async throws {
        let world = try MemoryWorld(apps: Self.apps)
        defer { world.tearDown() }
        try await world.push(1, app: "api")
        let back = try world.reopened(apps: [("hello", ""), ("api", "reach = [\"host:6379\"]")])
        #expect(back.runtime.served.all.map(\.name) == ["api", "hello"], "served once, as agent.conf has it")
        #expect(back.runtime.served.all.first?.reach == [.host(port: 6379)], "agent.conf wins over the record")
    }
}
