import ArgumentParser
import JailPilot

struct Deploy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build and deploy an app: fresh jail, health gate, Caddy flip, probation, retire the old release.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The app, as named in agent.conf.") var app: String
    @Option(help: "Deploy this commit (7-40 hex, on the tracked branch) instead of the pin or branch head.") var sha: String?

    func run() async throws {
        let runtime = try options.rootRuntime(for: "deploy")
        let app = try runtime.app(self.app)
        if let sha { try runtime.store.unquarantine(app: app.name, sha: sha.lowercased()) }
        let outcome = try await withLogTail { try await runtime.cliDeployer().deploy(app, sha: sha) }
        printOutcome(outcome)
    }
}

/// Runs a deploy, rollback or resume; when its release failed and its app log was kept, the
/// error ends with that log's last lines, where the app said why (a usage line, a missing
/// file, a lock it waited on). Only the terminal sees them: the agent log and the store keep
/// the reason alone, as an app may print what it should not.
func withLogTail<T>(_ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch let error as DeployError {
        guard case .failed(_, _, _, _, let log?) = error,
            let text = try? FileIO.readText(log, lastBytes: 4096)
        else { throw error }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).suffix(10)
        guard !lines.isEmpty else { throw error }
        throw CommandFailure("\(error)\n  the app's log ends:\n" + lines.map { "    \($0)" }.joined(separator: "\n"))
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
