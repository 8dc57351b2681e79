import FoundationEssentials

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
        var config = JSONValue.parse(current.body)?.object ?? [:]
        var appsObject = config["apps"]?.object ?? [:]
        var http = appsObject["http"]?.object ?? [:]
        var servers = http["servers"]?.object ?? [:]
        let desired = server(for: apps)
        if servers[Self.serverName] == desired { return false }
        servers[Self.serverName] = desired
        http["servers"] = .object(servers)
        appsObject["http"] = .object(http)
        config["apps"] = .object(appsObject)
        let body = try JSONValue.object(config).encoded()
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
    func server(for apps: [AppConfig]) -> JSONValue {
        var server: [String: JSONValue] = [
            "listen": .array(settings.listen.map(JSONValue.string)),
            "routes": .array(apps.map(route)),
        ]
        if !settings.automaticHTTPS { server["automatic_https"] = ["disable": true] }
        return .object(server)
    }

    func route(_ app: AppConfig) -> JSONValue {
        [
            "@id": .string("jailpilot_\(app.name)"),
            "match": [["host": .array(app.hostnames.map(JSONValue.string))]],
            "handle": [
                [
                    "handler": "reverse_proxy",
                    "dynamic_upstreams": [
                        "source": "a",
                        "name": .string(RouteResolver.name(for: app.name)),
                        "port": .string(String(app.port)),
                        "refresh": .int(Int64(settings.refresh.seconds * 1e9)),
                        "resolver": ["addresses": [.string("udp/\(settings.resolver)")]],
                    ],
                ]
            ],
            "terminal": true,
        ]
    }
}
