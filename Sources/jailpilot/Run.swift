import ArgumentParser
import JailPilot

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the agent in the foreground: poll every app, deploy what git and agent.conf want, until SIGTERM.",
        discussion: "rc.d/jailpilot runs it under daemon(8). SIGHUP or a change of agent.conf reloads the config.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        try ConfigOption.requireRoot(for: "run")
        let agent = try Agent(configPath: options.config)
        await agent.run()
    }
}
