import ArgumentParser
import JailPilot

struct Routes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-apply every app's Caddy route and rewrite the routes file from the state store.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let runtime = try options.rootRuntime(for: "routes")
        let changed = try await runtime.deployer().syncRoutes()
        let table = RouteTable.load(stateDir: runtime.config.agent.stateDir)
        print(changed ? "Caddy routes applied" : "Caddy routes already up to date")
        for (app, address) in table.addresses.sorted(by: { $0.key < $1.key }) { print("\(app) -> \(address)") }
    }
}
