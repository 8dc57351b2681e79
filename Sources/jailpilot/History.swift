import ArgumentParser
import FoundationEssentials
import JailPilot

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "An app's releases, newest first, with phase timings and outcome.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The app, as named in agent.conf.") var app: String
    @Flag(help: "Print JSON.") var json = false

    struct Row: Codable {
        var sha: String
        var state: String
        var address: String?
        var created: String
        var phases: [String: Double]
        var failedStep: String?
        var reason: String?
    }

    func run() async throws {
        let runtime = try options.runtime(echo: false)
        let app = try runtime.app(self.app)
        let rows = try runtime.store.releases(app: app.name).map { release in
            Row(
                sha: release.sha, state: release.state.rawValue, address: release.address,
                created: EventLog.timestamp(release.created),
                phases: Dictionary(release.phases, uniquingKeysWith: { $1 }), failedStep: release.step, reason: release.reason)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
            return
        }
        for (row, release) in zip(rows, try runtime.store.releases(app: app.name)) {
            let phases = release.phases.map { "\($0.0)=\(String.fixed($0.1, digits: 2))s" }.joined(separator: " ")
            var line =
                "\(row.created)  \(row.sha.prefix(12))  \(row.state + String(repeating: " ", count: max(0, 9 - row.state.count))) \(phases)"
            if let step = row.failedStep { line += "  failed at \(step): \(row.reason ?? "")" }
            print(line)
        }
    }
}
