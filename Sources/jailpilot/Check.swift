import ArgumentParser
import JailPilot

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate agent.conf; every problem is printed with file:line. Exit 0 only when valid.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        do {
            let config = try options.load()
            // The files the apps name, on the host they are for: secrets, credentials and the
            // keys that decide what may be deployed, which the agent would refuse or fail on.
            if config.agent.platform == PlatformKind.current {
                // The Go of each build_path against the go.mod of the commit each app follows
                // (from its mirror, as the last poll left it).
                let toolchains = await Toolchains.checks(config, runner: HostProcessRunner()).filter { !$0.ok }
                let problems =
                    AppFiles.problems(config)
                    + toolchains.map { "\($0.name): \($0.detail)" }
                for problem in problems { printError("\(options.config): \(problem)".escapingControls) }
                if !problems.isEmpty { throw ExitCode(1) }
            }
            print("\(options.config): ok, \(config.apps.count) app(s): \(config.apps.map(\.name).joined(separator: ", "))")
            // On the host it configures, say what deploys would go on without (doctor has the rest).
            // Read-only: no state store or log is opened (check runs before the agent starts).
            if config.agent.platform == PlatformKind.current {
                let host = Runtime.jailHost(config: config, owner: OwnerID(id: "-", stateDir: config.agent.stateDir))
                for gap in await host.enforcementGaps().compactMap(\.gap) { print("warning: \(gap) (jailpilot doctor)") }
            }
        } catch let error as ConfigError {
            printError(error.description)
            throw ExitCode(1)
        }
    }
}
