import ArgumentParser
import JailPilot

@main
struct JailPilotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jailpilot",
        abstract: "Pull-based GitOps agent: git push → Go build → fresh jail → Caddy flip.",
        version: JailPilotVersion.current,
        subcommands: [
            Check.self, Refs.self, Build.self, Deploy.self, Rollback.self, Resume.self, Status.self, History.self,
            Routes.self, Resolver.self, Remove.self, Plan.self, Run.self,
        ])
}

/// `-c agent.conf`, shared by every subcommand.
struct ConfigOption: ParsableArguments {
    @Option(name: [.short, .customLong("config")], help: "Path of agent.conf.")
    var config: String = "/usr/local/etc/jailpilot/agent.conf"

    func load() throws -> AgentConfig { try ConfigLoader.load(path: config) }

    func runtime(echo: Bool = true) throws -> Runtime { try Runtime(config: load(), echo: echo) }
}
