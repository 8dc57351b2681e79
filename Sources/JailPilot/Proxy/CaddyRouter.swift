import Foundation

/// Drives Caddy through its admin API. jailpilot owns one server, `jailpilot`, in
/// `apps.http.servers`; every other part of Caddy's config is left as it is.
///
/// Each app's route matches its hostnames and proxies to the dynamic `a` upstream
/// `<app>.jailpilot.internal.`, resolved by jailpilot's route resolver and cached for `refresh`.
/// A flip rewrites the route table only: Caddy's config, and so its connections, stay untouched.
public struct CaddyRouter: Router {
    public let settings: CaddySettings
    public let client: HTTPClient
    public static let serverName = "jailpilot"

    public init(settings: CaddySettings, client: HTTPClient = HTTPClient(timeout: .seconds(10))) {
        self.settings = settings
        self.client = client
    }

    var endpoint: HTTPEndpoint {
        get throws {
            guard let endpoint = HTTPEndpoint(settings.admin) else {
                throw RouterError(admin: settings.admin, message: "not an http:// or unix// address")
            }
            return endpoint
        }
    }

    @discardableResult
    public func applyRoutes(for apps: [AppConfig]) async throws -> Bool {
        let endpoint = try self.endpoint
        let current: HTTPResponse
        do {
            current = try await client.send("GET", "/config/", to: endpoint)
        } catch {
            throw RouterError(admin: settings.admin, message: "unreachable (\(error)); is Caddy running? Nothing was changed")
        }
        guard current.status == 200 else {
            throw RouterError(admin: settings.admin, message: "GET /config/ answered \(current.status): \(current.text)")
        }
        var config =
            (try? JSONSerialization.jsonObject(with: current.body, options: [.fragmentsAllowed])) as? [String: Any] ?? [:]
        var appsObject = config["apps"] as? [String: Any] ?? [:]
        var http = appsObject["http"] as? [String: Any] ?? [:]
        var servers = http["servers"] as? [String: Any] ?? [:]
        let desired = server(for: apps)
        if let existing = servers[Self.serverName], Self.same(existing, desired) { return false }
        servers[Self.serverName] = desired
        http["servers"] = servers
        appsObject["http"] = http
        config["apps"] = appsObject
        let body = try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys])
        let loaded = try await client.send("POST", "/load", to: endpoint, body: body)
        guard loaded.status == 200 else {
            throw RouterError(
                admin: settings.admin,
                message:
                    "Caddy refused jailpilot's routes (\(loaded.status)): \(loaded.text.prefix(400)). Another server on \(settings.listen.joined(separator: ", "))? Nothing was changed"
            )
        }
        return true
    }

    /// The `jailpilot` server object: one route per app.
    func server(for apps: [AppConfig]) -> [String: Any] {
        var server: [String: Any] = [
            "listen": settings.listen,
            "routes": apps.map(route),
        ]
        if !settings.automaticHTTPS { server["automatic_https"] = ["disable": true] }
        return server
    }

    func route(_ app: AppConfig) -> [String: Any] {
        [
            "@id": "jailpilot_\(app.name)",
            "match": [["host": app.hostnames]],
            "handle": [
                [
                    "handler": "reverse_proxy",
                    "dynamic_upstreams": [
                        "source": "a",
                        "name": RouteResolver.name(for: app.name),
                        "port": String(app.port),
                        "refresh": Int(settings.refresh.seconds * 1e9),
                        "resolver": ["addresses": ["udp/\(settings.resolver)"]],
                    ] as [String: Any],
                ] as [String: Any]
            ],
            "terminal": true,
        ]
    }

    static func same(_ a: Any, _ b: Any) -> Bool {
        let options: JSONSerialization.WritingOptions = [.sortedKeys, .fragmentsAllowed]
        guard let x = try? JSONSerialization.data(withJSONObject: a, options: options),
            let y = try? JSONSerialization.data(withJSONObject: b, options: options)
        else { return false }
        return x == y
    }
}
