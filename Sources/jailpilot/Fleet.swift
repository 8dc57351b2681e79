import ArgumentParser
import FoundationEssentials
import JailPilot

struct Fleet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What every host runs, from the agents' metrics in Prometheus.", subcommands: [FleetStatusCommand.self])
}

struct FleetStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Per app and ring: which hosts run which commit, who is behind, holds, pins, refused commits.")

    @Option(help: "Prometheus' URL, e.g. http://prometheus:9090.") var prometheus: String
    @Argument(help: "Only this app.") var app: String?
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let status = try await FleetStatus.ask(PrometheusAPI(url: prometheus), app: app)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            print(String(decoding: try encoder.encode(status), as: UTF8.self))
        } else {
            print(status.text())
        }
    }
}
