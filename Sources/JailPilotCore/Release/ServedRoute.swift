import FoundationEssentials

/// How an app's live release is served: what Caddy's route and the jails' network policy need
/// of its config. The store keeps it from the flip on, so that a process whose agent.conf no
/// longer names the app (a restarted agent, a CLI command) still serves the release that is live.
public struct ServedRoute: Sendable, Equatable {
    public var app: String
    public var hostnames: [String]
    public var port: Int
    public var service: String
    public var reach: [JailNetworkPolicy.Reach]

    public init(_ app: AppConfig) {
        self.app = app.name
        hostnames = app.hostnames
        port = app.port
        service = app.service
        reach = app.reach
    }

    init(app: String, hostnames: [String], port: Int, service: String, reach: [JailNetworkPolicy.Reach]) {
        self.app = app
        self.hostnames = hostnames
        self.port = port
        self.service = service
        self.reach = reach
    }

    /// A stand-in config for a removed app: enough to route it, police its jails, stop and
    /// destroy them; it has no remote, so it is never polled or built.
    public var retainedApp: AppConfig {
        AppConfig(
            name: app, repo: "", branch: "main", pin: nil, hostnames: hostnames, build: [], buildEnv: [:],
            buildTimeout: .seconds(600), service: service, port: port, health: "/up", keep: 0, healthPasses: 1,
            healthTimeout: .seconds(2), healthDeadline: .seconds(30), probation: .seconds(30), reach: reach, tokenFile: nil,
            tokenUser: "git", sshKey: nil, knownHosts: "")
    }
}
