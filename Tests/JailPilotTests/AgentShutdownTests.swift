import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// Stopping the agent (SIGTERM) takes at most its shutdown grace, whatever its watchers are
/// doing; no root (the agent runs on the memory host).
@Suite struct AgentShutdownTests {
    // Regression (#32): drain cancelled a task that only awaited the watchers, which reached
    // none of them; a deploy stuck in a call that ignores cancellation kept run() from ever
    // returning, and the agent's lock held.
    @Test func stopReturnsWithinTheGraceWhenADeployIgnoresCancellation() async throws {
        let world = try MemoryWorld()
        defer { world.tearDown() }
        let stuck = Stuck()
        world.source.onBuild { sha in await stuck.hang(sha) }
        world.source.push(MemoryWorld.sha(1))
        let agent = try await world.agent(resolver: "127.0.0.1:\(freePort())", shutdownGrace: .milliseconds(200))
        let running = Task { await agent.run() }
        let building = await stuck.first(within: .seconds(60))
        try #require(building == MemoryWorld.sha(1), "the agent never started the deploy")

        await agent.stop()
        // A failure guard only: with the fix, run() returns 200 ms after stop().
        let returned = await withTimeout(.seconds(30)) {
            await running.value
            return true
        }
        try #require(returned == true, "run() did not return within 30 s of stop() (shutdown grace 200 ms)")

        let log = try FileIO.readText(world.agentLog)
        #expect(log.contains("event=agent.stop_timeout"), "\(log)")
        #expect(log.contains("unfinished=hello"), "\(log)")
        #expect(log.contains("event=agent.stopped"), "\(log)")
        // The lock is released: the agent can be started again.
        _ = try await world.agent(resolver: "127.0.0.1:\(freePort())")
    }
}
