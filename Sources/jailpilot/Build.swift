import ArgumentParser
import JailPilot

struct Build: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fetch and build an app at its pin or branch head; prints the artifact path last.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The app, as named in agent.conf.") var app: String
    @Option(help: "Build this commit (7-40 hex, on the tracked branch) instead of the pin or head.") var sha: String?

    func run() async throws {
        let runtime = try options.runtime()
        // The app's lock, as a deploy holds it: a retire elsewhere never prunes this build's artifact.
        let lock = try await AppLock.acquire(stateDir: runtime.config.agent.stateDir, app: try runtime.app(app).name)
        defer { withExtendedLifetime(lock) {} }
        let result = try await SourcePipeline(runtime: runtime).build(try runtime.app(app), sha: sha)
        print(result.build.artifact)
    }
}
