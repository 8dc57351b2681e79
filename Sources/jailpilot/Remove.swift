import ArgumentParser
import JailPilot

struct Remove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop routing an app and destroy all its releases (jails, filesystems, networks). History is kept.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The app, as named in agent.conf.") var app: String

    func run() async throws {
        let runtime = try options.runtime()
        let removed = try await runtime.deployer(progress: progressLine).remove(try runtime.app(app))
        print("removed \(removed) release(s) of \(app)")
    }
}
