import Foundation
import JailPilot
import JailPilotTesting

extension TestAgentConf {
    /// One app `hello` tracking `repo` (`lines`: more of its table), state and log under
    /// `stateDir`; builds confined only as root (the sandbox runs them as another user).
    static func hello(stateDir: String, repo: String, lines: String = "") -> TestAgentConf {
        var conf = TestAgentConf(stateDir: stateDir, apps: [App("hello", repo: repo, lines: lines)])
        conf.logFile = "\(stateDir)/agent.log"
        conf.buildSandbox = isRoot ? nil : false
        return conf
    }

    /// The config parsed as the agent reads it.
    func config() throws -> AgentConfig { try parsed(file: "test.conf") }
}
