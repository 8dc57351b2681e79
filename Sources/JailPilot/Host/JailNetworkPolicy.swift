import FoundationEssentials

/// What a jail may reach: by default nothing on this host and nothing in other jails; an app's
/// `reach` opens what it names: `host:PORT` (a service listening on the jails' gateway address
/// or any address of this host, e.g. a database) and `app:NAME` (the other app's releases on its
/// port). Replies to connections the host makes (health checks, Caddy) always pass. The policy is
/// rendered from the store's releases whenever one starts or stops: Linux nftables, FreeBSD pf.
public struct JailNetworkPolicy: Sendable, Equatable {
    /// One release that holds an address.
    public struct Member: Sendable, Equatable {
        public var app: String
        public var address: String
        public var port: Int

        public init(app: String, address: String, port: Int) {
            self.app = app
            self.address = address
            self.port = port
        }
    }

    /// One opening, as `reach` names it.
    public enum Reach: Sendable, Equatable, CustomStringConvertible {
        case host(port: Int)
        case app(String)

        /// `host:5432` or `app:api`; nil for anything else.
        public static func parse(_ text: String) -> Reach? {
            let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return nil }
            switch parts[0] {
            case "host":
                guard parts[1].allSatisfy(\.isNumber), let port = Int(parts[1]), (1...65535).contains(port) else { return nil }
                return .host(port: port)
            case "app": return Names.appNameProblem(parts[1]) == nil ? .app(parts[1]) : nil
            default: return nil
            }
        }

        public var description: String {
            switch self {
            case .host(let port): return "host:\(port)"
            case .app(let name): return "app:\(name)"
            }
        }
    }

    public var members: [Member]
    /// Each app's openings.
    public var reach: [String: [Reach]]

    public init(members: [Member], reach: [String: [Reach]]) {
        self.members = members.sorted { ($0.app, $0.address) < ($1.app, $1.address) }
        self.reach = reach
    }

    /// Every (from, to, port) an app's reach allows between jails.
    var jailPairs: [(from: Member, to: Member)] {
        members.flatMap { from in
            (reach[from.app] ?? []).flatMap { opening -> [(from: Member, to: Member)] in
                guard case .app(let target) = opening else { return [] }
                return members.filter { $0.app == target }.map { (from, $0) }
            }
        }
    }

    /// Every (from, port) an app's reach allows towards this host.
    var hostOpenings: [(from: Member, port: Int)] {
        members.flatMap { from in
            (reach[from.app] ?? []).compactMap { opening in
                if case .host(let port) = opening { return (from, port) }
                return nil
            }
        }
    }

    /// The Linux ruleset: an inet table for jails → host (input from the jails' bridge) and a
    /// bridge table for jail → jail (bridged traffic never reaches the inet hooks). nft(8) applies
    /// a file as one transaction; declaring each table before deleting it makes that valid when
    /// it does not exist yet.
    public func nftables(bridge: String, network: IPv4Network) -> String {
        let quotedBridge = "\"\(bridge)\""
        // One pair of tables per bridge: two state_dirs on one host (two jail networks) never
        // overwrite each other's rules. Bridge names are 1-15 letters and digits (agent.conf).
        let table = "jailpilot_jails_\(bridge)"
        var text = """
            # Written by jailpilot: what the jails on \(bridge) may reach. Rewritten when releases start or stop.
            table inet \(table)
            delete table inet \(table)
            table inet \(table) {
                chain input {
                    type filter hook input priority 0; policy accept;
                    iifname \(quotedBridge) ct state established,related accept

            """
        for (from, port) in hostOpenings {
            text +=
                "        iifname \(quotedBridge) ip saddr \(from.address) tcp dport \(port) accept  # \(from.app) reach host:\(port)\n"
        }
        text += """
                    iifname \(quotedBridge) drop
                }
            }
            table bridge \(table)
            delete table bridge \(table)
            table bridge \(table) {
                chain forward {
                    type filter hook forward priority 0; policy accept;

            """
        for (from, to) in jailPairs {
            text +=
                "        ip saddr \(from.address) ip daddr \(to.address) tcp dport \(to.port) accept  # \(from.app) reach app:\(to.app)\n"
            text += "        ip saddr \(to.address) ip daddr \(from.address) tcp sport \(to.port) accept\n"
        }
        text += """
                    ip saddr \(network) ip daddr \(network) drop
                }
            }

            """
        return text
    }

    /// The FreeBSD rules for the pf anchor `jailpilot/jails`. A non-VNET jail's addresses are
    /// this host's, so its traffic to the host or another jail is local: it enters on lo0, and
    /// pf keeps state for what the host itself opens (Caddy, health checks). A pf.conf with
    /// `set skip on lo0` skips these rules (docs/FREEBSD.md).
    public func pf(network: IPv4Network) -> String {
        var text = "# Written by jailpilot: what the jails may reach. Loaded with pfctl -a jailpilot/jails -f FILE.\n"
        if let gateway = network.host(1) {
            // The host's own side of lo1: what the host opens to a jail from lo1's address.
            text += "pass in quick on lo0 from \(gateway) to \(network)\n"
        }
        // What the host opens to a jail (Caddy, health checks) usually carries the jail's own
        // address as its source: the route to a local address goes through a loopback
        // interface, and in_pcbladdr (sys/netinet/in_pcb.c) then takes the source from the
        // most specific interface address covering the destination, the jail's /32 alias. Only
        // the app's port: a jail's connection to its own address (or to 127.0.0.1, which a
        // non-VNET jail rewrites to it) reaches the host's wildcard sockets too (sshd on *:22).
        for member in members {
            text +=
                "pass in quick on lo0 proto tcp from \(member.address) to \(member.address) port \(member.port)  # \(member.app): the host to its jail\n"
        }
        for (from, port) in hostOpenings {
            text +=
                "pass in quick on lo0 proto tcp from \(from.address) to (self) port \(port)  # \(from.app) reach host:\(port)\n"
        }
        for (from, to) in jailPairs {
            text +=
                "pass in quick on lo0 proto tcp from \(from.address) to \(to.address) port \(to.port)  # \(from.app) reach app:\(to.app)\n"
        }
        if let gateway = network.host(1) {
            // DNS: the bootstrap has local_unbound answer the jails on the gateway address.
            text += "pass in quick on lo0 proto { tcp, udp } from \(network) to \(gateway) port 53  # DNS (local_unbound)\n"
        }
        text += "block return in quick on lo0 from \(network) to (self)\n"
        return text
    }
}
