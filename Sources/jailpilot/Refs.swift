import ArgumentParser
import JailPilot

struct Refs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the head of an app's tracked branch on its remote (ls-remote through libgit2).")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The app, as named in agent.conf.") var app: String
    @Flag(help: "List every ref the remote advertises.") var all = false

    func run() async throws {
        let app = try options.load().requireApp(app)
        let access = RemoteAccess(app: app)
        if all {
            for ref in try await RemoteRefs().list(access) { print("\(ref.sha)\t\(ref.name)") }
        } else {
            print("\(try await RemoteRefs().head(of: app.branch, at: access))\trefs/heads/\(app.branch)")
        }
    }
}
