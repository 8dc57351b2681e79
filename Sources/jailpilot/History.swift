import ArgumentParser
import FoundationEssentials
import JailPilot

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An app's timeline, newest first: every flip, failure and refusal, why, and who asked.",
        discussion: """
            One line each: time, from → to, outcome (live, failed, reverted, held, refused, unverified), cause (push, \
            pin, manual, rollback, resume, flip-back, config changed, key change) and who (agent, webhook, trigger, \
            cli:USER). --releases lists the releases instead, with their states.
            """)

    @OptionGroup var options: ConfigOption
    @Argument(help: "The app, as named in agent.conf.") var app: String
    @Flag(name: .shortAndLong, help: "Show each entry's phase timings.") var verbose = false
    @Flag(help: "Print JSON.") var json = false
    @Option(help: "Only entries since this long ago (30m, 12h, 7d) or this ISO 8601 time.") var since: String?
    @Flag(help: "List the app's releases and refused commits (one row each) instead of the timeline.") var releases = false

    func run() async throws {
        let runtime = try options.runtime(echo: false)
        let app = try runtime.removableApp(self.app)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        if releases {
            let rows = try HistoryRow.rows(app: app.name, store: runtime.store)
            if json { print(String(decoding: try encoder.encode(rows), as: UTF8.self)) } else { rows.forEach { print($0.text) } }
            return
        }
        let start = try since.map { try Self.parseSince($0) }
        let entries = try runtime.store.timeline(app: app.name, since: start)
        if json {
            print(String(decoding: try encoder.encode(entries), as: UTF8.self))
            return
        }
        if entries.isEmpty { print("no transitions of \(app.name) recorded\(since.map { " since \($0)" } ?? "")") }
        for entry in entries { print(entry.line(verbose: verbose)) }
    }

    /// `--since`: a duration back from now, or an ISO 8601 time.
    static func parseSince(_ text: String) throws -> Date {
        if let duration = DurationText.parse(text) { return Date().addingTimeInterval(-duration.seconds) }
        if text.hasSuffix("d"), let days = Int(text.dropLast()), days >= 0, days < 100_000 {
            return Date().addingTimeInterval(-Double(days) * 86400)
        }
        if let date = try? Date.ISO8601FormatStyle().parse(text) { return date }
        throw CommandFailure("--since '\(text)': give a duration such as 30m, 12h or 7d, or a time such as 2026-12-01T08:00:00Z")
    }
}
