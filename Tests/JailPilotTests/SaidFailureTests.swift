import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// A record the agent cannot keep (the store refuses a write, a file cannot be written) is said
/// in the log, once, with what it means and what to do; it used to be dropped in silence.
@Suite struct SaidFailureTests {
    // Regression (#32): noteHead's `try? store.saveHead` dropped the branch head in silence.
    @Test func aBranchHeadTheStoreCannotKeepIsSaidOnceAndDeploysGoOn() async throws {
        let world = try MemoryWorld()
        defer { world.tearDown() }
        try world.runtime.store.failEvery("INSERT", on: "heads")
        world.source.push(MemoryWorld.sha(1), app: "hello")
        let (polled, poll) = AsyncStream.makeStream(of: String.self)
        world.source.onPoll { app in poll.yield(app) }
        let agent = try await world.agent(resolver: "127.0.0.1:\(freePort())", settings: "poll_interval = \"100ms\"")
        let running = Task { await agent.run() }
        // The second poll comes after the first one's deploy.
        let second = await withTimeout(.seconds(60)) { await polled.dropFirst().first { _ in true } }
        try #require(second == "hello", "the agent never polled twice")
        await agent.stop()
        await running.value
        let log = try FileIO.readText(world.agentLog)
        let said = log.split(separator: "\n").filter { $0.contains("event=store.failed") }
        #expect(said.count == 1, "\(log)")
        #expect(said.first?.contains("what=\"save the branch head\"") == true, "\(said)")
        #expect(said.first?.contains("fix=") == true, "\(said)")
        #expect(try world.runtime.store.live(app: "hello")?.sha == MemoryWorld.sha(1), "the deploy went on")
    }

    // Regression (#32): Metrics.flush wrote the file with `try?`: node_exporter kept serving the
    // last file written, and nothing said why the metrics went stale.
    @Test func aMetricsFileThatCannotBeWrittenIsSaidOnce() async throws {
        let world = try MemoryWorld()
        defer { world.tearDown() }
        world.source.push(MemoryWorld.sha(1), app: "hello")
        let (polled, poll) = AsyncStream.makeStream(of: String.self)
        world.source.onPoll { app in poll.yield(app) }
        // Its directory would have to be made under a file.
        try FileIO.replace("\(world.root)/not-a-dir", text: "")
        let agent = try await world.agent(
            resolver: "127.0.0.1:\(freePort())", settings: "metrics_file = \"\(world.root)/not-a-dir/jailpilot.prom\"")
        let running = Task { await agent.run() }
        let first = await withTimeout(.seconds(60)) { await polled.first { _ in true } }
        try #require(first == "hello", "the agent never polled")
        await agent.stop()  // the drain writes the file once more
        await running.value
        let log = try FileIO.readText(world.agentLog)
        let said = log.split(separator: "\n").filter { $0.contains("event=metrics.write_failed") }
        #expect(said.count == 1, "\(log)")
        #expect(said.first?.contains("not-a-dir/jailpilot.prom") == true, "\(said)")
    }

    // Regression (#32): Builder's `try? store.saveBuild` dropped a failed build's record.
    @Test func aFailedBuildTheStoreCannotRecordIsSaidOnce() async throws {
        let repo = try await GitFixture()
        try await repo.commit(["x": "1"])
        let state = try Scratch("state")
        let config = try TestAgentConf.hello(
            stateDir: state.path, repo: repo.fileURL, lines: "build = [\"sh\", \"-c\", \"echo broken; exit 3\", \"{out}\"]"
        ).config()
        let runtime = try Runtime(config: config, echo: false)
        try runtime.store.failEvery("INSERT", on: "builds")
        await #expect(throws: BuildError.self) { try await SourcePipeline(runtime: runtime).build(try runtime.app("hello")) }
        let events = try runtime.store.events(app: "hello")
        let said = events.filter { $0.name == "build.unrecorded" }
        #expect(said.count == 1, "\(events.map(\.name))")
        #expect(said.first.map(EventLog.format)?.contains("injected failure") == true)
    }

    // Regression (#32): OwnerID.load replaced an owner file it could not use with a new id, so
    // every jail of the state_dir counted as another's from then on, without a word.
    @Test func anOwnerFileThatIsNotAnIDIsRefusedNotReplaced() throws {
        let state = try Scratch("owner")
        try FileIO.replace("\(state.path)/owner", text: "damaged\n")
        let error = #expect(throws: (any Error).self) { try OwnerID.load(stateDir: state.path) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("it is not replaced"), "\(String(describing: error))")
        #expect(try FileIO.readText("\(state.path)/owner") == "damaged\n")
        // Absent, it is made (a state_dir used for the first time), and read back the same.
        let fresh = try Scratch("owner-new")
        let made = try OwnerID.load(stateDir: fresh.path)
        #expect(try OwnerID.load(stateDir: fresh.path).id == made.id)
    }
}
