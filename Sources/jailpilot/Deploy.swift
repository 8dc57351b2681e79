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
        try refuseWhileHeld(app, runtime: runtime)
        if let sha { try runtime.store.unquarantine(app: app.name, sha: sha.lowercased()) }
        let outcome = try await withLogTail { try await runtime.cliDeployer().deploy(app, sha: sha) }
        printOutcome(outcome)
    }
}

extension Deploy {
    /// A deploy by hand while the app is held (after `rollback` or `resume --to`) is refused
    /// with the command that lifts the hold: going live on another commit would leave the hold
    /// on the older one, which the agent's next decision would follow. A pin overrides the hold
    /// (the agent deploys it anyway); `--sha` of the held commit itself changes nothing held.
    func refuseWhileHeld(_ app: AppConfig, runtime: Runtime) throws {
        guard app.pin == nil, let held = try runtime.store.holdSHA(app: app.name) else { return }
        if let sha, held.hasPrefix(sha.lowercased()) { return }
        throw CommandFailure(
            "\(app.name) is held at \(held.prefix(12)) (a rollback holds it there); a deploy by hand would go live on another commit and leave the hold on that one. Run `jailpilot resume \(app.name)` to lift the hold and deploy the branch head, or pin a commit in agent.conf (pin = \"…\"), which overrides the hold"
        )
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
