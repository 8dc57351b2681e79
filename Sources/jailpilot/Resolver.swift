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
