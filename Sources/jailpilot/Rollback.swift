import ArgumentParser
import JailPilot

struct Rollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make an earlier kept release live again (a flip if it still runs) and hold the app there.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The app, as named in agent.conf.") var app: String
    @Option(help: "The release to go back to (SHA prefix); default: the previous release.") var to: String?

    func run() async throws {
        let runtime = try options.runtime()
        let outcome = try await runtime.deployer(progress: progressLine).rollback(try runtime.app(app), to: to)
        printOutcome(outcome)
        print("hold placed: `jailpilot resume \(app)` returns \(app) to its pin or branch head")
    }
}

struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Lift the hold placed by rollback and deploy the pin or branch head again.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The app, as named in agent.conf.") var app: String

    func run() async throws {
        let runtime = try options.runtime()
        printOutcome(try await runtime.deployer(progress: progressLine).resume(try runtime.app(app)))
    }
}
