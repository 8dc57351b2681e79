import FoundationEssentials
import JailPilotCore

/// Drives Caddy through its admin API. jailpilot owns one server, `jailpilot`, in
/// `apps.http.servers`; every other part of Caddy's config is left as it is.
///
/// Each app's route matches its hostnames and proxies to the dynamic `a` upstream
/// `<app>.jailpilot.internal.`, resolved by jailpilot's route resolver and cached for `refresh`.
/// A flip rewrites the route table only: Caddy's config, and so its connections, stay untouched.
public struct CaddyRouter: Router {
    public let settings: CaddySettings
    public let client: HTTPClient
    /// `[webhook]`: a route on its hostnames and path to the agent's webhook listener.
    public var webhook: WebhookSettings?
    public static let serverName = "jailpilot"

    public init(
        settings: CaddySettings, webhook: WebhookSettings? = nil, client: HTTPClient = HTTPClient(timeout: .seconds(10))
    ) {
        self.settings = settings
        self.webhook = webhook
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
        let servers = http["servers"]?.object ?? [:]
        let desired = merged(servers, apps: apps)
        if servers == desired { return false }
        http["servers"] = .object(desired)
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

    /// `servers` with jailpilot's routes in place. If another server (an operator's Caddyfile
    /// site) listens on one of jailpilot's ports, the app routes go first in that server's
    /// routes, since Caddy cannot give one port to two servers; otherwise jailpilot has its own
    /// server. The probe is placed the same way. Every other part of the config is left as it is.
    public func merged(_ servers: [String: JSONValue], apps: [AppConfig]) -> [String: JSONValue] {
        var servers = servers
        Self.place(routes(for: apps), ports: Set(settings.listen.map(Self.port)), own: Self.serverName, in: &servers) {
            server(for: apps)
        }
        if let probe = settings.probe {
            let route: JSONValue = [
                "@id": "jailpilot_probe",
                "match": [["host": [.string(String(probe.split(separator: ":").first ?? ""))]]],
                "handle": [["handler": "static_response", "status_code": 200, "body": .string(token(for: apps))]],
                "terminal": true,
            ]
            Self.place([route], ports: [Self.port(probe)], own: Self.probeServerName, in: &servers) {
                ["listen": [.string(probe)], "routes": [route], "automatic_https": ["disable": true]]
            }
        } else {
            servers[Self.probeServerName] = nil
        }
        return servers
    }

    /// Puts `routes` first in the server (other than jailpilot's own) that listens on one of
    /// `ports`, replacing the jailpilot routes it had; or, with none, `own` is `make()`.
    static func place(
        _ routes: [JSONValue], ports: Set<String>, own: String, in servers: inout [String: JSONValue], make: () -> JSONValue
    ) {
        let ids = Set(
            routes.compactMap { route -> String? in if case .string(let id)? = route.object?["@id"] { id } else { nil } })
        let host = servers.keys.sorted().first { name in
            guard name != serverName, name != probeServerName, case .array(let listen)? = servers[name]?.object?["listen"]
            else { return false }
            return listen.contains { if case .string(let address) = $0 { ports.contains(port(address)) } else { false } }
        }
        guard let host, var server = servers[host]?.object else {
            servers[own] = make()
            return
        }
        servers[own] = nil
        var existing: [JSONValue] = []
        if case .array(let list)? = server["routes"] {
            existing = list.filter { route in
                guard case .string(let id)? = route.object?["@id"] else { return true }
                return !ids.contains(id) && !(own == serverName && isJailpilotRoute(route) && id != "jailpilot_probe")
            }
        }
        server["routes"] = .array(routes + existing)
        servers[host] = .object(server)
    }

    /// What the probe server answers: a digest of jailpilot's part of the config, so that a
    /// Caddy serving an older or foreign config is told apart from one serving this one.
    func token(for apps: [AppConfig]) -> String {
        let text = (try? JSONValue.array(routes(for: apps) + [server(for: apps)]).encoded()).map {
            String(decoding: $0, as: UTF8.self)
        }
        return "jailpilot " + String(fnv1a(text ?? ""), radix: 16)
    }

    public func routesPresent(for apps: [AppConfig]) async -> Bool? {
        guard let probe = settings.probe, let endpoint = HTTPEndpoint("http://\(probe)") else { return nil }
        let response = try? await HTTPClient(timeout: .seconds(2)).send("GET", "/", to: endpoint)
        return response?.status == 200 && response?.text == token(for: apps)
    }

    /// The probe server's name in `apps.http.servers`.
    public static let probeServerName = "jailpilot_probe"

    static func isJailpilotRoute(_ route: JSONValue) -> Bool {
        if case .string(let id)? = route.object?["@id"] { return id.hasPrefix("jailpilot_") }
        return false
    }

    /// The port of a Caddy listen address (`:443`, `127.0.0.1:8080`, `tcp/[::1]:80`).
    static func port(_ address: String) -> String { String(address.split(separator: ":").last ?? "") }

    /// The `jailpilot` server object: one route per app.
    func server(for apps: [AppConfig]) -> JSONValue {
        var server: [String: JSONValue] = [
            "listen": .array(settings.listen.map(JSONValue.string)),
            "routes": .array(routes(for: apps)),
        ]
        if !settings.automaticHTTPS { server["automatic_https"] = ["disable": true] }
        return .object(server)
    }

    /// How long Caddy keeps an idle connection to an app: short, so that a replaced release
    /// is left with live requests and streams only, which retirement waits for.
    public static let upstreamIdle: Duration = .seconds(2)
    /// Idle connections Caddy keeps per app (Caddy's own default).
    static let upstreamIdleConnections = 32

    /// The webhook's route (first), then one per app.
    func routes(for apps: [AppConfig]) -> [JSONValue] { (webhook.map { [webhookRoute($0)] } ?? []) + apps.map(route) }

    /// Forge webhooks: Caddy caps the body (`request_body`, a little above the listener's cap,
    /// so that the listener's 413 is what a forge sees) and forwards to the agent's loopback
    /// listener, which checks each request's signature.
    func webhookRoute(_ webhook: WebhookSettings) -> JSONValue {
        [
            "@id": "jailpilot_webhook",
            "match": [["host": .array(webhook.hostnames.map(JSONValue.string)), "path": [.string(webhook.path + "/*")]]],
            "handle": [
                ["handler": "request_body", "max_size": .int(Int64(Self.webhookBodyCap))],
                ["handler": "reverse_proxy", "upstreams": [["dial": .string(webhook.listen)]]],
            ],
            "terminal": true,
        ]
    }

    /// Caddy's cap on a webhook body: the listener's, plus 64 KiB.
    static let webhookBodyCap = HTTPRequest.bodyLimit + 64 * 1024

    /// How long Caddy holds a request for a stop-first app while no release of it is routed
    /// (the swap: the old release stops, the new one starts and passes its gate): the health
    /// deadline, plus 30 s for the stop and the start.
    public static func swapWait(_ app: AppConfig) -> Duration { app.healthDeadline + .seconds(30) }

    /// How long a start-first app's request is retried when its upstream refuses (a port change
    /// between Caddy's route and the route table: one config load and one refresh).
    public static let flipRetry: Duration = .seconds(2)
    static let flipRetryInterval: Duration = .milliseconds(100)

    /// How often a held request looks for an upstream again.
    static let swapInterval: Duration = .milliseconds(250)

    func route(_ app: AppConfig) -> JSONValue {
        var proxy: [String: JSONValue] = [
            "handler": "reverse_proxy",
            // Caddy fills in its keep-alive defaults only when no keep_alive is given: with
            // one, an unset max_idle_conns_per_host is Go's 2, and under load every other
            // upstream connection closes into TIME_WAIT until no local port is left
            // ("cannot assign requested address"), so 32, Caddy's default, is set here.
            "transport": [
                "protocol": "http",
                "keep_alive": [
                    "idle_timeout": .int(Int64(Self.upstreamIdle.seconds * 1e9)),
                    "max_idle_conns_per_host": .int(Int64(Self.upstreamIdleConnections)),
                ],
            ],
            "dynamic_upstreams": [
                "source": "a",
                "name": .string(RouteResolver.name(for: app.name)),
                "port": .string(String(app.port)),
                "refresh": .int(Int64(settings.refresh.seconds * 1e9)),
                "resolver": ["addresses": [.string("udp/\(settings.resolver)")]],
            ],
        ]
        // No upstream (a stop-first swap) and a refused dial (a port change, between Caddy's
        // route and the route table) are retried until try_duration, the upstream looked up
        // again each time (caddyhttp/reverseproxy: tryAgain). A request to an app that is down
        // waits that long before its 502 or 503.
        let (wait, interval) =
            app.strategy == .stopFirst ? (Self.swapWait(app), Self.swapInterval) : (Self.flipRetry, Self.flipRetryInterval)
        proxy["load_balancing"] = [
            "try_duration": .int(Int64(wait.seconds * 1e9)), "try_interval": .int(Int64(interval.seconds * 1e9)),
        ]
        return [
            "@id": .string("jailpilot_\(app.name)"),
            "match": [["host": .array(app.hostnames.map(JSONValue.string))]],
            "handle": [.object(proxy)],
            "terminal": true,
        ]
    }
}
