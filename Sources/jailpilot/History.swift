import ArgumentParser
import FoundationEssentials
import JailPilot

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An app's releases and refused commits, newest first, with phase timings and outcome.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The app, as named in agent.conf.") var app: String
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let runtime = try options.runtime(echo: false)
        let app = try runtime.removableApp(self.app)
        let rows = try HistoryRow.rows(app: app.name, store: runtime.store)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
            return
        }
        for row in rows { print(row.text) }
    }
}
