import Foundation
import JailPilot
import Testing

/// The route resolver is no single point of failure: the agent answers on the same UDP port, so
/// `jailpilot resolver` may be killed or restarted under load without a failed request (root,
/// like the deploy tests).
@Suite(.serialized, .enabled(if: canDeploy, "needs root, caddy, go, btrfs-progs and iproute2"))
struct ResolverFailoverTests {
    /// Sequential requests through Caddy until `stop`, at most `limit`: (answered one of
    /// `bodies`, anything else).
    static func load(
        _ world: E2EWorld, expect bodies: Set<String>, until stop: StopSignal, limit: Duration = .seconds(30)
    ) async -> (ok: Int, failed: [String]) {
        var ok = 0
        var failed: [String] = []
        let end = ContinuousClock.now + limit
        while !stop.isSet, ContinuousClock.now < end {
            let answer = await world.fetch()
            if bodies.contains(answer) { ok += 1 } else { failed.append(answer) }
        }
        return (ok, failed)
    }

    @Test func killingOrRestartingTheResolverUnderLoadFailsNoRequest() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CrashTests.binary), "build the jailpilot binary first")
        try await E2EWorld.with(ownResolver: false) { world in
            let v1 = try await world.repo.commitHello("always answered")
            let agent = try Agent(configPath: world.configPath)
            let running = Task { await agent.run() }
            try await world.expectLive(v1)
            func resolver() throws -> BackgroundProcess {
                try BackgroundProcess(
                    Command(CrashTests.binary, ["resolver", "-c", world.configPath]), log: "\(world.state.path)/resolver.log")
            }
            var service = try resolver()
            #expect(await eventually(.seconds(5)) { await world.fetch() == "always answered" })

            let stop = StopSignal()
            let traffic = Task { await Self.load(world, expect: ["always answered"], until: stop) }
            try await Task.sleep(for: .milliseconds(500))
            kill(service.pid, SIGKILL)  // a crash
            try await Task.sleep(for: .milliseconds(500))
            service = try resolver()  // its supervisor starts it again
            try await Task.sleep(for: .milliseconds(500))
            service.terminate()  // `service jailpilot_resolver restart`
            service = try resolver()
            try await Task.sleep(for: .milliseconds(700))
            stop.set()
            let (ok, failed) = await traffic.value
            #expect(failed.isEmpty, "\(failed.count) failed: \(Set(failed))")
            #expect(ok > 20, "only \(ok) requests went through")
            service.terminate()
            await agent.stop()
            await running.value
        }
    }
}
