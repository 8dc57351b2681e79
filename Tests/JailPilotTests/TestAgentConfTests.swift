import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// The test worlds' one agent.conf builder writes what the agent reads back, whatever a value
/// holds: each string is quoted, never pasted into the TOML.
@Suite struct TestAgentConfTests {
    @Test func valuesWithQuotesBackslashesAndControlCharactersReadBackAsWritten() throws {
        let awkward = "/tmp/a \"b\" \\c\td\u{1}e"
        var conf = TestAgentConf(stateDir: awkward, apps: [TestAgentConf.App("hello", repo: "https://e.example/h.git")])
        // The agent refuses such a state_dir, but reads the string exactly: its issue quotes it.
        let error = #expect(throws: ConfigError.self) { try conf.parsed() }
        #expect(error?.description.contains("'\(awkward)'") == true, "\(String(describing: error))")

        conf.stateDir = "/tmp/state dir"
        conf[app: "hello"].keep = 1
        conf[app: "hello"].probation = "4s"
        conf.caddy = TestAgentConf.Caddy(listen: ["127.0.0.1:8080", ":8081"], automaticHTTPS: false, probe: "")
        let config = try conf.parsed()
        #expect(config.agent.stateDir == "/tmp/state dir")
        #expect(config.caddy.listen == ["127.0.0.1:8080", ":8081"])
        #expect(config.caddy.automaticHTTPS == false && config.caddy.probe == nil)
        let app = try #require(config.app("hello"))
        #expect(app.keep == 1 && app.probation == .seconds(4))
    }

    @Test func aPropertyLeftUnsetIsNotWrittenAndLinesFollowTheirTable() throws {
        var conf = TestAgentConf(stateDir: "/tmp/s", apps: [TestAgentConf.App("hello", repo: "https://e.example/h.git")])
        conf[app: "hello"].lines = "health_passes = 5"
        conf.extra = "[webhook]\nlisten = \"127.0.0.1:9000\"\nhostnames = [\"hooks.localhost\"]"
        #expect(!conf.text.contains("[jails]") && !conf.text.contains("[caddy]"), "\(conf.text)")
        let config = try conf.parsed()
        #expect(config.app("hello")?.healthPasses == 5)
        #expect(config.app("hello")?.keep == 3, "the agent's default")
        #expect(config.webhook != nil)
    }
}
