import Foundation
import JailPilot

/// An agent.conf for tests: one app `hello` tracking `repo`, state under `stateDir`.
func testConfig(
    stateDir: String, repo: String, extraApp: String = "", extraAgent: String = "", extra: String = ""
) throws -> AgentConfig {
    try ConfigLoader.parse(
        """
        [agent]
        platform = "linux"
        state_dir = "\(stateDir)"
        log_file = "\(stateDir)/agent.log"
        \(isRoot ? "" : "build_sandbox = false  # the sandbox runs builds as another user: root only")
        \(extraAgent)

        [apps.hello]
        repo = "\(repo)"
        hostnames = ["hello.localhost"]
        \(extraApp)
        \(extra)
        """, file: "test.conf")
}
