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
    package var jailPairs: [(from: Member, to: Member)] {
        members.flatMap { from in
            (reach[from.app] ?? []).flatMap { opening -> [(from: Member, to: Member)] in
                guard case .app(let target) = opening else { return [] }
                return members.filter { $0.app == target }.map { (from, $0) }
            }
        }
    }

    /// Every (from, port) an app's reach allows towards this host.
    package var hostOpenings: [(from: Member, port: Int)] {
        members.flatMap { from in
            (reach[from.app] ?? []).compactMap { opening in
                if case .host(let port) = opening { return (from, port) }
                return nil
            }
        }
    }
}
