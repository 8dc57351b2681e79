import ArgumentParser
import JailPilot

struct Remove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Stop routing an app and destroy all its releases (jails, filesystems, networks). History is kept; data too, unless --data --yes."
    )

    @OptionGroup var options: ConfigOption
    @Argument(help: "The app, as named in agent.conf (or one removed from it that still has a live release).") var app: String
    @Flag(help: "Also delete the app's data volume and every snapshot of it, for good (with --yes).") var data = false
    @Flag(help: "Confirm --data.") var yes = false

    func run() async throws {
        let runtime = try options.rootRuntime(for: "remove")
        let app = try runtime.removableApp(self.app)
        if data && !yes {
            throw CommandFailure(
                "remove --data deletes \(app.name)'s data volume\(app.data.map { " (\($0) in its jails)" } ?? "") and every snapshot of it, for good; nothing was removed. Run it again with --yes to go on"
            )
        }
        let deployer = try runtime.cliDeployer()
        let removed = try await deployer.remove(app)
        print("removed \(removed) release(s) of \(self.app)")
        if data {
            let snapshots = try await deployer.removeData(app)
            print("deleted the data volume of \(self.app) and \(snapshots) snapshot(s)")
        } else if let data = app.data {
            print(
                "its data (\(data) in its jails) and the data snapshots are kept; `jailpilot remove \(self.app) --data --yes` deletes them"
            )
        }
    }
}
