import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// Crash points are injected by the crash tests alone: the shipped `jailpilot` binary has none.
@Suite struct CrashPointTests {
    // Regression (#32): the shipped agent and CLI read JAILPILOT_CRASH_AT and SIGKILLed
    // themselves at that step: an environment variable could kill production.
    @Test func theShippedBinaryIgnoresJAILPILOT_CRASH_AT() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CrashTests.binary), "build the jailpilot binary first")
        let repo = try await GitFixture()
        _ = try await repo.commit(["main.go": "package main\n"], message: "one")
        let state = try Scratch("crash-at")
        let config = try CLITests().unsandboxedConfig(
            state,
            """
            [apps.hello]
            repo = "\(repo.fileURL)"
            hostnames = ["hello.localhost"]
            build = ["sh", "-c", "echo built > \\"$1\\"", "sh", "{out}"]
            """)
        var env = ProcessInfo.processInfo.environment
        env["JAILPILOT_CRASH_AT"] = "fetch"
        let built = try await HostProcessRunner().run(
            Command(CrashTests.binary, ["build", "-c", config, "hello"], environment: env), timeout: .seconds(120))
        #expect(
            built.status == 0,
            "jailpilot build with JAILPILOT_CRASH_AT=fetch exited \(built.status): \(built.stderrText.trimmedWhitespace)")
        #expect(!built.stderrText.contains("crash point"), "\(built.stderrText)")
    }

    /// The crash-test driver is that agent with crash points: it dies with SIGKILL at its step.
    @Test func theCrashTestDriverKillsTheAgentAtItsStep() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CrashTests.crashTest), "build jailpilot-crashtest first")
        let repo = try await GitFixture()
        _ = try await repo.commit(["main.go": "package main\n"], message: "one")
        let state = try Scratch("crash-driver")
        let config = try CLITests().unsandboxedConfig(
            state,
            """
            poll_interval = "100ms"
            [caddy]
            admin = "http://127.0.0.1:\(freePort())"
            resolver = "127.0.0.1:\(freePort())"
            probe = ""
            [apps.hello]
            repo = "\(repo.fileURL)"
            hostnames = ["hello.localhost"]
            """)
        let crashed = try await CrashTests.runKilled(at: "fetch", config: config, stderr: "\(state.path)/crashed.out")
        let said = (try? FileIO.readText("\(state.path)/crashed.out")) ?? ""
        #expect(crashed.status == 128 + SIGKILL, "\(crashed.status): \(said)")
        #expect(said.contains("crash point fetch reached"), "\(said)")
        let usage = try await HostProcessRunner().run(Command(CrashTests.crashTest, ["run", "-c", config]))
        #expect(usage.status == 2 && usage.stderrText.contains("--crash-at STEP"), "\(usage.stderrText)")
    }

    /// A runtime made as the agent and CLI make theirs reaches every crash point and goes on,
    /// whatever the environment says.
    @Test func theDefaultCrashPointsDoNothing() async throws {
        let world = try MemoryWorld()
        defer { world.tearDown() }
        #expect(world.runtime.crash is NoCrashPoints)
        for step in CrashTests.steps { await world.runtime.crash.reach(step) }
        #expect(try await world.push(1).release.state == .live)
    }

    /// kill -9 during a deploy, on the memory host: the agent's deploy of a new commit stops for
    /// good at `step` (nothing after it runs, no cleanup); the agent started next on the same
    /// host and store undoes the half-made release, and the live one still serves.
    @Test(arguments: ["clone", "start", "health"])
    func aDeployKilledAtAStepIsUndoneByTheNextAgent(step: String) async throws {
        let world = try MemoryWorld()
        defer { world.tearDown() }
        let v1 = try await world.push(1).release
        world.source.push(MemoryWorld.sha(2), app: "hello")

        let crash = CrashAt(step)
        let crashed = try await world.agent(resolver: "127.0.0.1:\(freePort())", shutdownGrace: .milliseconds(100), crash: crash)
        let dying = Task { await crashed.run() }
        try #require(await crash.reached(within: .seconds(60)), "the agent's deploy never reached \(step)")
        let halfMade = try #require(try world.runtime.store.releases(app: "hello").first { $0.sha == MemoryWorld.sha(2) })
        // What SIGKILL leaves of the process: nothing runs, its lock is gone.
        await crashed.stop()
        let released = await withTimeout(.seconds(30)) {
            await dying.value
            return true
        }
        try #require(released == true, "the crashed agent did not let go")
        // SIGKILL closes the process's descriptors and its flocks go with them; the suspended
        // deploy still holds the app's lock in this process, so it is let go as a dead one's
        // would be: its file replaced (start-up recovery takes each app's lock, as a deploy does).
        try FileManager.default.removeItem(atPath: "\(world.runtime.config.agent.stateDir)/locks/hello.lock")

        // The next agent recovers before its watcher's first poll. The branch goes back to v1:
        // the suspended deploy still holds the app's lock (a killed one would not), so a new
        // deploy of v2 would only find the app busy.
        let (polled, poll) = AsyncStream.makeStream(of: String.self)
        world.source.reset("hello", to: MemoryWorld.sha(1))
        world.source.onPoll { app in poll.yield(app) }
        let restarted = try await world.agent(resolver: "127.0.0.1:\(freePort())")
        let running = Task { await restarted.run() }
        let first = await withTimeout(.seconds(60)) { await polled.first { _ in true } }
        try #require(first == "hello", "the restarted agent never polled")

        let undone = try #require(try world.runtime.store.releases(app: "hello").first { $0.id == halfMade.id })
        #expect(undone.state == .failed && undone.step == "interrupted", "\(undone.state) at \(undone.step ?? "-")")
        #expect(world.host.jails[halfMade.name] == nil, "the half-made jail is left on the host")
        #expect(try world.runtime.store.live(app: "hello")?.id == v1.id)
        #expect(world.host.jails[v1.name]?.running == true)
        #expect(RouteTable.load(stateDir: world.runtime.config.agent.stateDir).addresses["hello"] == v1.address)
        #expect(try world.runtime.store.quarantineReason(app: "hello", sha: MemoryWorld.sha(2)) == nil)
        await restarted.stop()
        await running.value
    }
}
