import ArgumentParser
import FoundationEssentials
import JailPilot

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract:
            "Check this host for what the configured driver needs (datasets, interfaces, pf, resource accounting, Caddy, resolvers, known_hosts, free space), each ✓ or ✗ with its fix. Exit 0 only when every check passes."
    )

    @OptionGroup var options: ConfigOption
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let runtime = try options.runtime(echo: false)
        let checks = await Doctor(runtime: runtime).checks()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(checks), as: UTF8.self))
        } else {
            print(checks.map(\.text).joined(separator: "\n"))
            let failing = checks.filter { !$0.ok }.count
            print(failing == 0 ? "\nall \(checks.count) checks pass" : "\n\(failing) of \(checks.count) checks fail")
        }
        if checks.contains(where: { !$0.ok }) { throw ExitCode(1) }
    }
}
