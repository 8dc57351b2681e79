import Foundation
import JailPilot
import Testing

/// An agent whose jail driver cannot be set up says so, at start and once per wanted commit,
/// instead of polling forever in silence. No root: nothing is ever started.
@Suite struct AgentWithoutDriverTests {
    // Regression (#20): recover() returned without a word and each watcher polled forever
    // without deploying or logging when the driver could not be built.
    @Test func aDriverThatCannotBeSetUpIsLoggedAtStartAndForTheCommitItCannotDeploy() async throws {
        let repo = try await GitFixture()
        let head = try await repo.commit(["main.go": "package main\n"], message: "one")
        let scratch = try Scratch("nodriver")
        let state = "\(scratch.path)/state"
        // The owner id the driver needs cannot be read or written: state_dir/owner is a directory.
        try FileIO.makeDirectories("\(state)/owner")
        let configPath = try scratch.write(
            "agent.conf",
            """
            [agent]
            platform = "linux"
            state_dir = "\(state)"
            log_file = "\(state)/agent.log"
            poll_interval = "100ms"
            [caddy]
            admin = "http://127.0.0.1:\(freePort())"
            resolver = "127.0.0.1:\(freePort())"
            probe = ""
            [apps.hello]
            repo = "\(repo.fileURL)"
            hostnames = ["hello.localhost"]
            """)
        let agent = try Agent(configPath: configPath, shutdownGrace: .seconds(5))
        let running = Task { await agent.run() }
        func log() -> String { (try? String(contentsOfFile: "\(state)/agent.log", encoding: .utf8)) ?? "" }
        #expect(await eventually(.seconds(20)) { log().contains("event=deploy.failed") }, "\(log())")
        await agent.stop()
        await running.value
        let text = log()
        #expect(text.contains("event=recovery.skipped"), "\(text)")
        #expect(text.contains("app=hello event=watcher.no_driver"), "\(text)")
        #expect(text.contains("sha=\(head.prefix(12)) event=deploy.failed"), "\(text)")
        #expect(text.components(separatedBy: "event=deploy.failed").count == 2, "said once, not at every poll")
    }
}
