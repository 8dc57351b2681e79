import ArgumentParser
import JailPilot

struct Remove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop routing an app and destroy all its releases (jails, filesystems, networks). History and data are kept.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The app, as named in agent.conf (or one removed from it that still has a live release).") var app: String

    func run() async throws {
        let runtime = try options.rootRuntime(for: "remove")
        let app = try runtime.removableApp(self.app)
        let removed = try await runtime.cliDeployer().remove(app)
        print("removed \(removed) release(s) of \(self.app)")
        if let data = app.data {
            print(
                "its data (\(data) in its jails) and the data snapshots are kept; remove them by hand if they are no longer wanted"
            )
        }
    }
}
