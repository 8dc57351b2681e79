import FoundationEssentials
import Glibc
import JailPilotCore

/// What a build that may use the network can reach: the outside (module downloads), and DNS;
/// never the host's own addresses (its loopback and every interface: the agent, Caddy's admin
/// API, a database) nor the jails' network. Linux: an nftables table matching the build user's
/// sockets (`meta skuid`) in the output hook, where the locally made packets of a build in the
/// host's network namespace pass. nft(8): `fib daddr type local` is true for any address of
/// this host.
public struct BuildNetworkPolicy: Sendable, Equatable {
    public var uid: uid_t
    public var jails: IPv4Network?
    /// Names this state_dir's table, so two agents on one host keep their own rules.
    public var stateDir: String

    public init(uid: uid_t, jails: IPv4Network?, stateDir: String) {
        self.uid = uid
        self.jails = jails
        self.stateDir = stateDir
    }

    var table: String { "jailpilot_build_" + String(fnv1a(stateDir) & 0xffff_ffff, radix: 16) }

    /// The ruleset, replacing any earlier one atomically (`nft -f` applies a file as one
    /// transaction; declaring the table first makes the delete valid when it does not exist yet).
    public var ruleset: String {
        let jailRule = jails.map { "        meta skuid \(uid) ip daddr \($0) reject\n" } ?? ""
        return """
            # Written by jailpilot for \(stateDir): what builds (uid \(uid)) may reach. Rewritten before each build.
            table inet \(table)
            delete table inet \(table)
            table inet \(table) {
                chain output {
                    type filter hook output priority 0; policy accept;
                    meta skuid \(uid) udp dport 53 accept
                    meta skuid \(uid) tcp dport 53 accept
                    meta skuid \(uid) fib daddr type local reject
            \(jailRule)    }
            }

            """
    }

    /// The command that loads `file`, as `jailpilot plan` would print it.
    public func command(file: String) -> Command { Command("nft", ["-f", file]) }

    /// Loads the ruleset; an error says how to get nft or do without network in builds.
    public func apply(runner: any ProcessRunning, stateDir: String) async throws {
        let file = "\(stateDir)/build-network.nft"
        if (try? FileIO.readText(file)) != ruleset { try FileIO.replace(file, text: ruleset, mode: 0o600) }
        let result: ProcessResult
        do { result = try await runner.run(command(file: file), timeout: .seconds(30)) } catch {
            throw BuildNetworkError(
                detail: "\(error); install nftables (scripts/install-deps does) or set build_network = false for the app")
        }
        guard result.succeeded else {
            throw BuildNetworkError(detail: "nft -f \(file) failed: \(result.stderrText.trimmedWhitespace)")
        }
    }
}

/// The build's network policy could not be put in place; the build did not run.
public struct BuildNetworkError: Error, Sendable, CustomStringConvertible {
    public var detail: String
    public var description: String { "cannot confine the build's network: \(detail)" }
}
