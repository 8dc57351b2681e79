import Foundation
import JailPilot
import Testing

/// Streams and WebSockets opened to a release keep working through the flip and probation;
/// the replaced release is stopped once its connections close, or when drain_timeout runs out
/// (root, like the deploy tests).
@Suite(.serialized, .enabled(if: canDeploy, "needs root, caddy, go, btrfs-progs and iproute2"))
struct LongLivedTests {
    func log(_ world: E2EWorld) -> String {
        (try? String(contentsOfFile: "\(world.state.path)/agent.log", encoding: .utf8)) ?? ""
    }

    func release(_ world: E2EWorld, _ sha: String) throws -> Release? {
        try world.runtime.store.releases(app: "hello").first { $0.sha == sha }
    }

    /// The agent's first release is a cold Go build beside the other suites' builds: up to
    /// 180 s, as E2EWorld.expectLive allows (a full CI run of a fresh clone, 2026-12-08, took
    /// over 60 s). A bound, not what the test asserts.
    static let firstBuild: Duration = .seconds(180)

    @Test func aStreamOutlivesTheFlipAndProbationAndHoldsRetirementUntilItCloses() async throws {
        try await E2EWorld.with(appExtra: "drain_timeout = \"60s\"", probation: "1s") { world in
            let v1 = try await world.repo.commitHello("old")
            let agent = try Agent(configPath: world.configPath)
            let running = Task { await agent.run() }
            #expect(try await eventually(Self.firstBuild) { try release(world, v1)?.state == .live })
            let stream = try StreamClient(port: world.frontPort, host: "hello.localhost", path: "/stream")
            #expect(await eventually(.seconds(5)) { stream.count("data: old") >= 2 })

            let v2 = try await world.repo.commitHello("new")
            try await world.expectLive(v2)
            #expect(await eventually(.seconds(5)) { await world.fetch() == "new" })
            let before = stream.count("data: old")
            try await Task.sleep(for: .seconds(4))  // past probation and the settling of idle connections
            #expect(stream.count("data: old") >= before + 10, "the stream to the old release stalled")
            #expect(try release(world, v1)?.state == .standby)
            #expect(log(world).contains("event=release.draining"))

            stream.close()
            #expect(try await eventually(.seconds(8)) { try release(world, v1)?.state == .retired })
            #expect(log(world).contains("drained=\"its last connection closed\""))
            #expect(await world.fetch() == "new")
            await agent.stop()
            await running.value
        }
    }

    @Test func drainTimeoutStopsAReleaseWhoseStreamNeverEnds() async throws {
        try await E2EWorld.with(appExtra: "drain_timeout = \"4s\"", probation: "500ms") { world in
            let v1 = try await world.repo.commitHello("endless")
            let agent = try Agent(configPath: world.configPath)
            let running = Task { await agent.run() }
            #expect(try await eventually(Self.firstBuild) { try release(world, v1)?.state == .live })
            let stream = try StreamClient(port: world.frontPort, host: "hello.localhost", path: "/stream")
            #expect(await eventually(.seconds(5)) { stream.count("data: endless") >= 2 })

            _ = try await world.repo.commitHello("next")
            #expect(try await eventually(.seconds(30)) { try release(world, v1)?.state == .retired })
            #expect(log(world).contains("drained=\"drain_timeout (4s) ran out with 1 connection(s) open\""))
            // The old release is gone, and its stream with it.
            let last = stream.count("data: endless")
            try await Task.sleep(for: .seconds(1))
            #expect(stream.count("data: endless") == last)
            stream.close()
            await agent.stop()
            await running.value
        }
    }
}
