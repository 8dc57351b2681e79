import ArgumentParser
import JailPilot

struct Rollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make an earlier kept release live again (a flip if it still runs) and hold the app there.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The app, as named in agent.conf.") var app: String
    @Option(help: "The release to go back to (SHA prefix); default: the previous release.") var to: String?
    @Flag(
        help:
            "Also put the app's data back as that release left it (its snapshot); says what is lost and asks first. --to may name the live release."
    ) var withData = false
    @Flag(help: "With --with-data: do not ask (for scripts); what is lost is still printed.") var yes = false

    func run() async throws {
        let runtime = try options.rootRuntime(for: "rollback")
        let app = try runtime.app(self.app)
        let deployer = try runtime.cliDeployer()
        guard withData else {
            printOutcome(try await withLogTail { try await deployer.rollback(app, to: to) })
            print("hold placed: `jailpilot resume \(self.app)` returns \(self.app) to its pin or branch head")
            return
        }
        let plan = try await deployer.dataRollbackPlan(app, to: to)
        print(plan.describe(app: app))
        if !yes {
            guard FileIO.standardInputIsTerminal else {
                throw ValidationError("nothing was done: rerun with --yes to confirm the loss above")
            }
            print("Type yes to go on: ", terminator: "")
            guard readLine()?.trimmedWhitespace == "yes" else {
                print("nothing was done")
                return
            }
        }
        printOutcome(try await deployer.rollbackWithData(app, plan: plan))
        if plan.live?.id != plan.target.id {
            print("hold placed: `jailpilot resume \(self.app)` returns \(self.app) to its pin or branch head")
        }
    }
}

struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Lift the hold placed by rollback and deploy the pin or branch head again.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The app, as named in agent.conf.") var app: String

    func run() async throws {
        let runtime = try options.rootRuntime(for: "resume")
        let app = try runtime.app(self.app)
        printOutcome(try await withLogTail { try await runtime.cliDeployer().resume(app) })
    }
}
