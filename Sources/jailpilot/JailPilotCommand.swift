import ArgumentParser
import Glibc
import JailPilot

@main
struct JailPilotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jailpilot",
        abstract: "Pull-based GitOps agent: git push → Go build → fresh jail → Caddy flip.",
        version: JailPilotVersion.description,
        subcommands: [
            Check.self, Refs.self, Build.self, Verify.self, Deploy.self, Rollback.self, Resume.self, Status.self, History.self,
            Routes.self, Resolver.self, Remove.self, Plan.self, Run.self, DoctorCommand.self, Trigger.self, Promote.self,
            Fleet.self,
        ])

    /// ArgumentParser's main, except that an error's control characters are escaped as the
    /// log escapes them: a file or app name from outside must not drive the terminal or forge
    /// lines. Help and usage text is printed as ArgumentParser writes it.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }
            let message = fullMessage(for: error)
            if !message.isEmpty {
                FileIO.writeStandardError(message.escapingControls(keep: ["\n", "\t"]) + "\n")
            }
            exit(withError: ExitCode(code.rawValue))
        }
    }
}

/// `-c agent.conf`, shared by every subcommand.
struct ConfigOption: ParsableArguments {
    @Option(name: [.short, .customLong("config")], help: "Path of agent.conf.")
    var config: String = "/usr/local/etc/jailpilot/agent.conf"

    func load() throws -> AgentConfig { try ConfigLoader.load(path: config) }

    func runtime(echo: Bool = true) throws -> Runtime { try Runtime(config: load(), echo: echo) }

    /// The runtime of a command that changes jails, data or routes (`what`: "deploy"), which
    /// only root may: anyone else is told so before anything is opened, instead of meeting
    /// "unable to open database file" or "Permission denied" halfway.
    func rootRuntime(for what: String) throws -> Runtime {
        try Self.requireRoot(for: what)
        return try runtime()
    }

    /// Refuses `what` unless this process runs as root.
    static func requireRoot(for what: String) throws {
        guard geteuid() != 0 else { return }
        throw CommandFailure(
            "jailpilot \(what) needs root: it changes jails, their data and the routes, and the state database is root's; run it as root (sudo jailpilot \(what) …)"
        )
    }
}
