import ArgumentParser
import JailPilot

struct Deploy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build and deploy an app: fresh jail, health gate, Caddy flip, probation, retire the old release.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The app, as named in agent.conf.") var app: String
    @Option(help: "Deploy this commit (7-40 hex, on the tracked branch) instead of the pin or branch head.") var sha: String?

    func run() async throws {
        let runtime = try options.runtime()
        let app = try runtime.app(self.app)
        if let sha { try runtime.store.unquarantine(app: app.name, sha: sha.lowercased()) }
        let outcome = try await runtime.cliDeployer().deploy(app, sha: sha)
        printOutcome(outcome)
    }
}

/// Prints a progress line to stderr (stdout is kept for the result).
@Sendable func progressLine(_ text: String) { printError("jailpilot: \(text)") }

/// The closing summary: live SHA, address and phase timings.
func printOutcome(_ outcome: DeployOutcome) {
    let release = outcome.release
    print("live \(release.app) \(release.sha) at \(release.address ?? "-")")
    if !outcome.phases.isEmpty {
        print("phases " + outcome.phases.map { "\($0.0)=\(Logfmt.seconds($0.1))" }.joined(separator: " "))
    }
}
