import FoundationEssentials
import JailPilotCore

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

    /// The table the state store says: every live release's address.
    public static func derived(from store: StateStore) throws -> RouteTable {
        var table = RouteTable()
        // A release a stop-first deploy swapped out is out of the route: Caddy waits for the new one.
        for release in try store.releases(in: [.live]) where !release.isSwappedOut {
            table.addresses[release.app] = release.address
        }
        return table
    }

    /// Runs `change` (a store update, e.g. a flip) and rewrites `state_dir/routes` from the
    /// store, both holding `state_dir/routes.lock`. Every writer (flips of different apps,
    /// `remove`, the agent's repair, a CLI command in another process) goes through it, so the
    /// file always ends up as the store says, and no reader of the lock sees a flip half done.
    /// Apps in `excluding` are left out (an app being removed). Returns the table written.
    @discardableResult
    public static func commit<T>(
        store: StateStore, stateDir: String, excluding: Set<String> = [], _ change: () throws -> T
    ) throws -> (T, RouteTable) {
        try LockFile.withExclusive(lockPath(stateDir: stateDir)) {
            let result = try change()
            return (result, try written(from: store, stateDir: stateDir, excluding: excluding))
        }
    }

    /// `commit` for a change that awaits (a crash test's crash point between the store's flip and
    /// the file): the lock is waited for without holding a thread (LockFile).
    @discardableResult
    public static func commit<T>(
        store: StateStore, stateDir: String, excluding: Set<String> = [], _ change: () async throws -> T
    ) async throws -> (T, RouteTable) {
        try await LockFile.withExclusive(lockPath(stateDir: stateDir)) {
            let result = try await change()
            return (result, try written(from: store, stateDir: stateDir, excluding: excluding))
        }
    }

    /// Writes the table the store says, without the apps in `excluding`; the caller holds the lock.
    private static func written(from store: StateStore, stateDir: String, excluding: Set<String>) throws -> RouteTable {
        var table = try derived(from: store)
        for app in excluding { table.addresses[app] = nil }
        try table.save(stateDir: stateDir)
        return table
    }

    /// Rewrites `state_dir/routes` from the store (see `commit`).
    @discardableResult
    public static func rebuild(from store: StateStore, stateDir: String, excluding: Set<String> = []) throws -> RouteTable {
        try commit(store: store, stateDir: stateDir, excluding: excluding) {}.1
    }

    /// If `state_dir/routes` is missing, damaged or stale, rewrites it from the store and returns
    /// what it said before; nil when it was right.
    public static func repair(from store: StateStore, stateDir: String) throws -> RouteTable? {
        try LockFile.withExclusive(lockPath(stateDir: stateDir)) {
            let text = (try? FileIO.readText(path(stateDir: stateDir))) ?? ""
            let wanted = try derived(from: store)
            guard text != wanted.text else { return nil }
            let current = parse(text)
            try wanted.save(stateDir: stateDir)
            return current
        }
    }

    static func lockPath(stateDir: String) -> String { "\(stateDir)/routes.lock" }

    /// The file's exact content.
    package var text: String { addresses.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)\n" }.joined() }

    /// Writes the table atomically. The product writes through `commit`, which serialises writers.
    public func save(stateDir: String) throws {
        try FileIO.replace(Self.path(stateDir: stateDir), text: text)
    }
}
