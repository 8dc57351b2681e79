/// The whole of `agent.conf`, validated: what the agent runs with.
public struct AgentConfig: Sendable, Equatable {
    /// `[agent]`: process-wide settings.
    public var agent: AgentSettings
    /// `[jails]`: where and how release jails are made.
    public var jails: JailSettings
    /// `[caddy]`: the router the agent drives.
    public var caddy: CaddySettings
    /// `[apps.NAME]` tables, sorted by name.
    public var apps: [AppConfig]
    /// `[webhook]`; nil: no webhook endpoint.
    public var webhook: WebhookSettings? = nil
    /// The file this was read from (for messages).
    public var sourcePath: String

    /// The app called `name`, if configured.
    public func app(_ name: String) -> AppConfig? { apps.first { $0.name == name } }
}

/// Which jail driver runs releases.
public enum PlatformKind: String, Sendable, CaseIterable {
    case freebsd, linux
}

/// `[agent]` settings.
public struct AgentSettings: Sendable, Equatable {
    public var platform: PlatformKind
    public var pollInterval: Duration
    /// Root of everything the agent keeps: state.db, mirrors, artifacts, caches, logs.
    public var stateDir: String
    /// The event log (logfmt); `nil` writes events to standard error only.
    public var logFile: String?
    /// Prometheus textfile for node_exporter; `nil` disables metrics.
    public var metricsFile: String?
    /// Builds that may run at once across all apps.
    public var maxParallelBuilds: Int
    /// Default time limit of one build.
    public var buildTimeout: Duration
    /// PATH given to builds (the build environment is otherwise empty).
    public var buildPath: String
    /// Extra environment for every build (GOPROXY, GOFLAGS, ...).
    public var buildEnv: [String: String]
    /// known_hosts used to verify SSH remotes.
    public var knownHosts: String
    /// Whether builds run confined (Linux: bubblewrap; FreeBSD: a build jail).
    public var buildSandbox: Bool = true
    /// The unprivileged account confined builds run as.
    public var buildUser: String = "jailpilot-build"
    /// FreeBSD: the build template, `<dataset>/templates/<build_template>@base`.
    public var buildTemplate: String = "build"
    /// Every app's default for which commits it deploys (none checked unless set).
    public var verification = CommitVerification()
    /// `[[agent.notify]]`: who is told of releases, failures, refusals and holds.
    public var notify: [NotifyTarget] = []
}

/// `[jails]` settings, shared by both drivers where the concept is the same.
public struct JailSettings: Sendable, Equatable {
    /// FreeBSD: the parent dataset holding templates/ and containers/.
    public var dataset: String
    /// Where the dataset is mounted (FreeBSD) or the btrfs filesystem lives (Linux).
    public var mountpoint: String
    /// Template name: `<dataset>/templates/<template>@base` or `<mountpoint>/templates/<template>`.
    public var template: String
    /// Host interface holding the gateway address: a bridge (`jailpilot0` on FreeBSD with VNET
    /// jails, `jp0` on Linux) or, with FreeBSD's `network_mode = "alias"`, the loopback `lo1`.
    public var interface: String
    /// FreeBSD: how a jail gets its network (Linux jails always have a namespace of their own).
    public var networkMode: JailNetworkMode = .vnet
    /// Jail addresses are allocated from this IPv4 network; its first host is the host side.
    public var network: IPv4Network
    /// Time a stopping app gets between SIGTERM and SIGKILL.
    public var drain: Duration
    /// Default limits of every release's jail (per app: memory, cpu, disk in `[apps.NAME]`).
    public var limits: JailLimits = JailLimits()
    /// Linux: an app's log is rotated past this size (FreeBSD: newsyslog's rule in the jail).
    public var logSize: Int = 10 << 20
    /// Linux: rotated logs kept per release.
    public var logKeep: Int = 5
}

/// How a FreeBSD jail is networked: `[jails] network_mode`.
public enum JailNetworkMode: String, Sendable, Equatable, CaseIterable {
    /// Its own network stack (VNET) with one epair(4) on the host's bridge: pf filters what it
    /// sends on the epair's host side, so jails cannot reach each other or the host unless
    /// `reach` opens it (docs/FREEBSD.md, "Isolation").
    case vnet
    /// The seed article's flow: the jail's address is an alias on `interface` (lo1) in the host's
    /// own network stack. Such jails are not isolated: doctor and status say so.
    case alias
}

/// `[caddy]` settings.
public struct CaddySettings: Sendable, Equatable {
    /// Admin endpoint: `http://127.0.0.1:2019` or `unix//path/to/admin.sock`.
    public var admin: String
    /// Addresses Caddy serves the apps on, e.g. `[":8080"]` or `[":443"]`.
    public var listen: [String]
    /// Whether Caddy obtains certificates for the apps' hostnames (its default: on).
    public var automaticHTTPS: Bool
    /// UDP address of jailpilot's route resolver, which Caddy's dynamic upstreams query.
    public var resolver: String
    /// How long Caddy caches an app's address: the upper bound of a flip's latency.
    public var refresh: Duration
    /// Loopback TCP address of the small probe server jailpilot keeps in Caddy's config; the
    /// agent asks it every second whether Caddy still has jailpilot's routes. Nil: no probe.
    public var probe: String?
    /// Where the agent keeps jailpilot's routes as Caddyfile site blocks, for an operator's
    /// Caddyfile to `import`; nil: not written.
    public var caddyfile: String? = nil
}

/// How a deploy replaces the live release (`strategy` in agent.conf).
public enum DeployStrategy: String, Sendable, CaseIterable {
    /// The new release starts, passes its gate and takes the traffic while the old one still
    /// runs (probation can flip back to it): the default.
    case startFirst = "start-first"
    /// The live release is taken out of the route and stopped first, then the new one starts
    /// and passes its gate; requests that arrive in the gap wait in Caddy. For an app whose data
    /// allows one process at a time (BoltDB, SQLite with an exclusive lock, a flock).
    case stopFirst = "stop-first"
}

/// One `[apps.NAME]` table: a git repository and branch built into one binary.
public struct AppConfig: Sendable, Equatable {
    public var name: String
    public var repo: String
    public var branch: String
    /// The ring before this one (`promoted_from = "main"`, a branch of the same remote): a head
    /// of `branch` must be on it, so a push straight to `branch` cannot skip the canaries.
    public var promotedFrom: String? = nil
    /// A commit (7–40 hex) ops pinned; overrides holds and the branch head.
    public var pin: String?
    public var hostnames: [String]
    /// Build argv; `{out}` is replaced by the artifact path.
    public var build: [String]
    /// Extra build environment for this app (merged over `[agent] build_env`).
    public var buildEnv: [String: String]
    /// The build's PATH for this app (`build_path`): which Go builds it; nil: `[agent] build_path`.
    public var buildPath: String? = nil
    /// The directory of the tree the build runs in (`build_dir = "backend"`, where a module in a
    /// subdirectory has its go.mod); nil: the tree's root.
    public var buildDir: String? = nil
    public var buildTimeout: Duration
    /// The rc service / binary name inside the jail (letters, digits, `_`).
    public var service: String
    /// The service's arguments after its binary (`args = ["serve", "/usr/local/etc/app.yml"]`);
    /// part of the release's identity: changing them makes a new release of the same commit.
    public var args: [String] = []
    /// Host files installed into each release, jail path → host path (`files = {
    /// "/usr/local/etc/app.yml" = "/usr/local/etc/jailpilot/app.yml" }`); read at each deploy,
    /// their content is part of the release's identity as `env` is.
    public var files: [String: String] = [:]
    public var port: Int
    public var health: String
    /// Prior releases kept for rollback.
    public var keep: Int
    /// How a new release replaces the live one (`strategy`): both running at once, or the live
    /// one stopped first (single-writer data).
    public var strategy: DeployStrategy = .startFirst
    /// Consecutive `GET health` successes that make a release healthy.
    public var healthPasses: Int
    /// Time limit of one health request.
    public var healthTimeout: Duration
    /// Time a new release gets to become healthy.
    public var healthDeadline: Duration
    /// After the flip, how long the previous release keeps running while the new one is watched.
    public var probation: Duration
    /// After probation, how long the previous release may keep serving connections it still has
    /// (WebSockets, event streams) before it is stopped anyway.
    public var drainTimeout: Duration = .seconds(300)
    /// The exported source tree's size limit; a bigger tree is refused before it is written.
    public var maxTreeSize: Int = 256 << 20
    /// Whether the build may reach the outside (module downloads); never the host or the jails.
    public var buildNetwork: Bool = true
    /// What each of this app's releases may use.
    public var limits: JailLimits = JailLimits()
    /// Plain variables for the app's environment (`env = { LOG_LEVEL = "info" }`).
    public var env: [String: String] = [:]
    /// Root-only KEY=VALUE files of secrets, read at each deploy (`env_files = [...]`).
    public var envFiles: [String] = []
    /// Where the app's persistent data appears inside each of its jails (`data = "/var/db/hello"`):
    /// one volume per app, the same for every release, snapshotted before each release.
    public var data: String? = nil
    /// The release step's argv (`release = ["/usr/local/bin/hello", "migrate"]`), run in the new
    /// jail after start and before the flip.
    public var release: [String] = []
    /// How long the release step may take before it is killed and the release fails.
    public var releaseTimeout: Duration = .seconds(300)
    /// What its jails may reach on this host and in other jails (nothing by default).
    public var reach: [JailNetworkPolicy.Reach] = []
    /// Which commits it deploys: their signatures, and whether the branch may move backwards.
    public var verification = CommitVerification()
    /// HTTPS: a file whose first line is the token (never logged).
    public var tokenFile: String?
    /// A file whose first line is the secret forges sign this app's webhooks with; nil: none.
    public var webhookSecret: String? = nil
    /// HTTPS: the user name sent with the token.
    public var tokenUser: String
    /// SSH: private key file; with no key the ssh-agent is asked.
    public var sshKey: String?
    public var knownHosts: String
}
