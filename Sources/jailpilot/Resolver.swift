import ArgumentParser
import Dispatch
import Glibc
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
        // SIGTERM (rc.d stop, a restart): answer what is queued, then go; the agent answers on the
        // same port meanwhile.
        let stop = StopSignal()
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stop.set() }
            source.resume()
            sources.append(source)
        }
        try RouteResolver(stateDir: config.agent.stateDir).serve(on: config.caddy.resolver, until: { stop.isSet })
        withExtendedLifetime(sources) {}
        printError("jailpilot resolver: stopped")
    }
}
