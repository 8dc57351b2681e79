import ArgumentParser
import JailPilot

struct Resolver: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the DNS names Caddy resolves to find each app's live jail (run it as a service).",
        discussion: """
            Answers A queries for <app>.jailpilot.internal. from state_dir/routes on [caddy] resolver. \
            It keeps no state, so it can run for months; flips only rewrite the routes file.
            """)

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let config = try options.load()
        printError("jailpilot resolver: answering on \(config.caddy.resolver) from \(config.agent.stateDir)/routes")
        try RouteResolver(stateDir: config.agent.stateDir).serve(on: config.caddy.resolver)
    }
}

struct Routes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-apply every app's Caddy route and rewrite the routes file from the state store.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let runtime = try options.runtime()
        let changed = try await runtime.deployer().syncRoutes()
        let table = RouteTable.load(stateDir: runtime.config.agent.stateDir)
        print(changed ? "Caddy routes applied" : "Caddy routes already up to date")
        for (app, address) in table.addresses.sorted(by: { $0.key < $1.key }) { print("\(app) -> \(address)") }
    }
}
