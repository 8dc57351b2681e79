import ArgumentParser
import Glibc
import JailPilot

struct Trigger: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask the running agent to poll an app now instead of at its next interval (root: the agent's socket).")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The app, as named in agent.conf.") var app: String

    func run() async throws {
        let config = try options.load()
        guard config.app(app) != nil else {
            throw CommandFailure(
                "no app '\(app)' in \(options.config) (apps: \(config.apps.map(\.name).joined(separator: ", ")))")
        }
        signal(SIGPIPE, SIG_IGN)
        let socket = Listeners.controlSocket(stateDir: config.agent.stateDir)
        let reply: String
        do {
            let bytes = try StreamServer.exchange(unix: socket, Array("trigger \(app)\n".utf8), timeout: .seconds(5))
            reply = String(decoding: bytes, as: UTF8.self).trimmedWhitespace
        } catch {
            throw CommandFailure(
                "cannot reach the agent at \(socket): \(error). Is `jailpilot run` running (as root) with this agent.conf?")
        }
        guard reply == "queued" || reply == "coalesced" else { throw CommandFailure("the agent answered: \(reply)") }
        print(reply == "queued" ? "\(app): the agent polls it now" : "\(app): a poll was already asked for; it runs now")
    }
}
