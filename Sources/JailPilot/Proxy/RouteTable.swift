import FoundationEssentials

/// The live address of each app, as Caddy should see it: `state_dir/routes`.
///
/// One line per app, `APP ADDRESS`, replaced atomically (write, fsync, rename) on every flip.
/// It is derived from the state store and re-derived on start; the DNS responder that Caddy's
/// dynamic upstreams query reads it. A flip is therefore one rename: no Caddy config reload, so
/// no keep-alive connection is closed.
public struct RouteTable: Sendable, Equatable {
    public var addresses: [String: String]

    public init(addresses: [String: String] = [:]) { self.addresses = addresses }

    public static func path(stateDir: String) -> String { "\(stateDir)/routes" }

    /// Reads the table; a missing file is an empty table.
    public static func load(stateDir: String) -> RouteTable {
        parse((try? String(contentsOfFile: path(stateDir: stateDir), encoding: .utf8)) ?? "")
    }

    static func parse(_ text: String) -> RouteTable {
        var addresses: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, Names.appNameProblem(String(parts[0])) == nil, IPv4Network.parse(String(parts[1])) != nil
            else { continue }
            addresses[String(parts[0])] = String(parts[1])
        }
        return RouteTable(addresses: addresses)
    }

    /// Writes the table atomically.
    public func save(stateDir: String) throws {
        let text = addresses.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)\n" }.joined()
        try FileIO.replace(Self.path(stateDir: stateDir), text: text)
    }
}
