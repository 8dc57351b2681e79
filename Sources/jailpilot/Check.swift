import ArgumentParser
import JailPilot

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate agent.conf; every problem is printed with file:line. Exit 0 only when valid.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        do {
            let config = try options.load()
            print("\(options.config): ok, \(config.apps.count) app(s): \(config.apps.map(\.name).joined(separator: ", "))")
        } catch let error as ConfigError {
            printError(error.description)
            throw ExitCode(1)
        }
    }
}
