import JailPilotCore

/// Everything a driver needs to make one release's jail.
public struct JailSpec: Sendable, Equatable {
    /// The jail, its filesystem and its config file (ReleaseName): `<app>_<sha12>[_<env8>]`.
    public var name: String
    public var app: String
    public var sha: String
    /// Binary and rc service name inside the jail.
    public var service: String
    /// The service's arguments after its binary (`args`), quoted into its start script at
    /// provision; part of `envDigest`.
    public var args: [String] = []
    public var port: Int
    public var address: String
    /// The built binary on the host.
    public var artifact: String
    /// What the jail may use (the app's limits; the defaults for a jail found on the host).
    public var limits: JailLimits = JailLimits()
    /// The app's environment: written into the release at provision; nil for a release that
    /// exists already (its file is in place). `envDigest` is part of `name`.
    public var env: AppEnvironment? = nil
    public var envDigest: String = ""
    /// Where the app's data volume is mounted inside the jail (`data` in agent.conf); nil for none.
    public var data: String? = nil
    /// The app's commit mark as it will be once this release is live: written on the release
    /// (a new one only; nil for one that exists), so a restored store can get it back.
    public var mark: CommitMark? = nil

    public init(name: String, app: String, sha: String, service: String, port: Int, address: String, artifact: String) {
        self.name = name
        self.app = app
        self.sha = sha
        self.service = service
        self.port = port
        self.address = address
        self.artifact = artifact
    }

    /// The spec of an existing release; its binary is where the build left it.
    public init(release: Release, app: AppConfig, layout: StateLayout) {
        self.init(app: app, sha: release.sha, address: release.address ?? "", artifact: layout.artifact(app, release.sha))
        // What the release was made with: its start script holds them; these are agent.conf's now.
        envDigest = release.env
        name = release.name
        // The port it was made with: a rollback across a port change listens where it did.
        port = release.port ?? app.port
    }

    public init(app: AppConfig, sha: String, address: String, artifact: String, env: AppEnvironment? = nil) {
        self.init(
            name: ReleaseName(app: app.name, sha: sha, env: env?.digest ?? "").text, app: app.name, sha: sha,
            service: app.service, port: app.port, address: address, artifact: artifact)
        limits = app.limits
        data = app.data
        args = app.args
        self.env = env
        envDigest = env?.digest ?? ""
    }
}

/// What a plan does to a jail.
public enum JailAction: String, Sendable, CaseIterable {
    case provision, start, stop, destroy
}

/// Runs release jails on one host. Two drivers: FreeBSD (zfs, jail) and Linux (btrfs, namespaces).
///
/// Every action is first a plan of host steps (commands and files, as values), so that
/// `jailpilot plan` can print it and tests can compare it; running a plan executes those steps.
public protocol JailHost: AppDataHost {
    /// The steps `action` takes for `spec` on a host in the expected state (golden files).
    func plan(_ action: JailAction, _ spec: JailSpec) -> [HostStep]
    /// The steps `action` takes for `spec` on the host as it is now: `plan`, less what the
    /// host's state makes moot (a jail that is not running is not stopped again). The driver
    /// runs exactly these, and `jailpilot plan` prints them.
    func steps(_ action: JailAction, _ spec: JailSpec) async -> [HostStep]
    /// Clones the template and installs the binary and its start script; does not start it.
    func provision(_ spec: JailSpec) async throws
    /// Starts the jail and its service on `spec.address`.
    func start(_ spec: JailSpec) async throws
    /// SIGTERM, up to the drain time, then SIGKILL; the filesystem is kept.
    func stop(_ spec: JailSpec) async throws
    /// Removes everything of the jail: processes, network, config, filesystem. Idempotent.
    func destroy(_ spec: JailSpec) async throws
    /// Whether the jail's service is running (found again after an agent restart).
    func isRunning(_ spec: JailSpec) async -> Bool
    /// Whether the jail's filesystem exists (a kept release can be started again).
    func exists(_ spec: JailSpec) async -> Bool
    /// If the service has exited since start (crash, exec failure), what it said.
    func exitReport(_ spec: JailSpec) async -> String?
    /// Path on the host of the service's log inside the jail.
    func logPath(_ spec: JailSpec) -> String
    /// The steps that make `spec` the release that comes back after a reboot, instead of `old`
    /// (none where the agent itself starts the live release at boot).
    func promotePlan(_ spec: JailSpec, replacing old: JailSpec?) -> [HostStep]
    /// Runs `promotePlan`.
    func promote(_ spec: JailSpec, replacing old: JailSpec?) async throws
    /// Makes what boots match `live` (the store's live releases), at agent start: FreeBSD moves
    /// what earlier versions left for rc.d/jail.
    func syncBootList(_ live: [JailSpec]) async throws
    /// Rotates the service's log when it has grown past `limit` bytes, keeping `keep` old ones.
    func rotateLog(_ spec: JailSpec, limit: Int, keep: Int)
    /// The steps that put `policy` (what the jails may reach) in force.
    func networkPolicyPlan(_ policy: JailNetworkPolicy) -> [HostStep]
    /// `networkPolicyPlan` on the host as it is now (what `applyNetworkPolicy` runs).
    func networkPolicySteps(_ policy: JailNetworkPolicy) async -> [HostStep]
    /// Runs `networkPolicyPlan`; whenever a release starts or stops.
    func applyNetworkPolicy(_ policy: JailNetworkPolicy) async throws
    /// Who holds `spec.name` on this host: the owner marker on its filesystem, else on its network.
    func ownership(_ spec: JailSpec) async -> JailOwnership
    /// Every jail (or lone jail network) on this host that carries this state_dir's marker.
    func ownedJails() async -> [OwnedJail]
    /// Jail addresses in use on the host right now, whoever holds them.
    func addressesInUse() async -> Set<String>
    /// Marks a jail made before owner markers existed, which this state_dir's store records.
    func adopt(_ spec: JailSpec) async throws
    /// What this driver needs of the host (datasets or subvolumes, interfaces, tools), each
    /// checked now, including `enforcementChecks`: `jailpilot doctor`.
    func hostChecks() async -> [HostCheck]
    /// The checks of what deploys go on without (limits, the network policy), cheap enough to
    /// ask before every start; the agent logs each failing one once, `status` shows them.
    func enforcementChecks() async -> [HostCheck]
    /// Where a release's binary finds the libraries it links (the template every release is
    /// cloned from, and the dynamic linker's directories in it); nil where it is not judged.
    var libraries: (root: String, dirs: [String])? { get }
    /// Established TCP connections to the release's service (`address:port`), as the host sees
    /// them; nil when they cannot be counted. Retirement waits for them to close.
    func openConnections(_ spec: JailSpec) async -> Int?
}

extension JailSpec {
    /// A spec that names an existing jail found on the host, for stopping or destroying it: its
    /// app, commit (12 digits) and environment digest as the name says (ReleaseName); all ""
    /// when `name` is not a release name.
    public init(found name: String, service: String) {
        let parsed = ReleaseName(parsing: name)
        self.init(
            name: name, app: parsed?.app ?? "", sha: parsed?.sha12 ?? "", service: service, port: 1, address: "", artifact: "")
        envDigest = parsed?.env ?? ""
    }
}

extension JailHost {
    public func steps(_ action: JailAction, _ spec: JailSpec) async -> [HostStep] { plan(action, spec) }
    public func networkPolicySteps(_ policy: JailNetworkPolicy) async -> [HostStep] { networkPolicyPlan(policy) }

    /// Throws unless `spec` is ours or unmarked (a jail made before markers): nothing of another
    /// state_dir's is ever stopped or destroyed.
    public func requireNotOthers(_ spec: JailSpec, to action: String) async throws {
        let ownership = await ownership(spec)
        if case .other = ownership { throw NotOwnedError(name: spec.name, action: action, ownership: ownership) }
    }
}

extension JailSpec {
    /// Refuses values that must never reach a dataset name, jail.conf, rc script or newsyslog line.
    public func validate() throws {
        var problems: [String] = []
        if let p = Names.appNameProblem(app) { problems.append("app '\(app)' \(p)") }
        if let p = Names.serviceNameProblem(service) { problems.append("service '\(service)' \(p)") }
        if !Names.isFullSHA(sha) { problems.append("sha '\(sha)' is not 40 lowercase hex digits") }
        if name != ReleaseName(app: app, sha: sha, env: envDigest).text {
            problems.append("jail name '\(name)' is not <app>_<sha12>[_<env8>]")
        }
        if !envDigest.isEmpty && !Names.isLowerHex(Substring(envDigest), count: 8) {
            problems.append("env digest '\(envDigest)' is not 8 hex digits")
        }
        if IPv4Network.parse(address) == nil { problems.append("address '\(address)' is not an IPv4 address") }
        if !(1...65535).contains(port) { problems.append("port \(port) is out of range") }
        if let p = Names.pathProblem(artifact) { problems.append("artifact path \(p)") }
        if let data, let p = Names.dataPathProblem(data) { problems.append("data path '\(data)' \(p)") }
        if !problems.isEmpty { throw InvalidSpecError(problems: problems) }
    }
}

/// A jail spec with values that fail validation; no plan is made for it.
public struct InvalidSpecError: Error, Sendable, CustomStringConvertible {
    public var problems: [String]
    public var description: String { "refusing to plan a jail: " + problems.joined(separator: "; ") }
}
