import FoundationEssentials

extension Deployer {
    /// The jail a `jailpilot deploy` of `commit` would make, for its plan: the first free
    /// address, the environment as it resolves now (names only are printed), the commit mark
    /// (raised when the deploy takes the branch head: `Deployer.followsBranch`).
    public func deploySpec(_ app: AppConfig, commit: String, followsBranch: Bool) async throws -> JailSpec {
        let address = try AddressPool(config: runtime.config, store: store).allocate(excluding: await host.addressesInUse())
        let env = try AppEnvironment.resolve(app, layout: runtime.layout)
        var spec = JailSpec(app: app, sha: commit, address: address, artifact: runtime.layout.artifact(app, commit), env: env)
        spec.mark = try await releaseMark(app, commit: commit, raises: followsBranch)
        return spec
    }

    /// The plan `jailpilot plan` prints for `action` on `spec`: built from the store and the host
    /// as they are now, by the functions the deploy itself runs (ReleasePlan).
    public func plan(_ action: ReleasePlan.Action, app: AppConfig, spec: JailSpec, replacing: JailSpec?, at time: Date? = nil)
        async throws -> [HostStep]
    {
        let now = time ?? clock.date
        let held = try store.releases(app: app.name).contains {
            $0.address == spec.address && ![.destroyed, .failed].contains($0.state)
        }
        let policy = try networkPolicy(
            adding: held ? nil : JailNetworkPolicy.Member(app: app.name, address: spec.address, port: app.port))
        let retention: [HostStep]
        if action == .deploy {
            retention = await steps(
                of: try retentionPlan(
                    app, releases: projected(app, deploying: spec, at: now), snapshots: try store.snapshots(app: app.name)),
                app: app)
        } else {
            retention = []
        }
        let stateDir = runtime.config.agent.stateDir
        return await ReleasePlan(
            host: host, app: app, stateDir: stateDir, routes: RouteTable.load(stateDir: stateDir), policy: policy,
            retention: retention, at: now
        ).steps(action, spec: spec, replacing: replacing)
    }

    /// The app's releases as the store will hold them after a deploy of `spec` has retired the
    /// others: `spec` live, every running one retired now.
    func projected(_ app: AppConfig, deploying spec: JailSpec, at now: Date) throws -> [Release] {
        let stored = try store.releases(app: app.name)
        // Retired after everything the store holds (its REAL timestamps can round past `now`
        // when the clock has not moved since the last retire).
        let retiredAt = max(now, stored.map(\.updated).max() ?? now).addingTimeInterval(0.001)
        var releases = stored.map { release in
            var release = release
            if [.live, .standby].contains(release.state) {
                release.state = .retired
                release.updated = retiredAt
            }
            return release
        }
        releases.insert(
            Release(
                id: -1, app: app.name, sha: spec.sha, state: .live, address: spec.address, step: nil, reason: nil, created: now,
                updated: now, phases: [], env: spec.envDigest),
            at: 0)
        return releases
    }
}
