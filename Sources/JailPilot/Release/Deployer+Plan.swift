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

    /// The script `jailpilot plan` prints for `action`, built as the action itself builds it
    /// from the store and the host as they are now. `spec` is the release the action is about
    /// (deploy: the one `deploySpec` made; others: a kept release), `mark` the commit mark
    /// generation a deploy raises.
    public func script(
        _ action: ReleasePlan.Action, app: AppConfig, spec: JailSpec, mark: Int = 0, cause: String = "manual",
        at time: Date? = nil
    )
        async throws -> ReleaseScript
    {
        let releases = try store.releases(app: app.name)
        let live = releases.first { $0.state == .live }
        let named = releases.first { $0.name == spec.name && $0.state.hasJail }
        switch action {
        case .deploy:
            if let live, live.name == spec.name {
                var script = ReleaseScript(kind: .unchanged, app: app, steps: [], undo: .none, cause: cause)
                script.unchangedLive = spec
                return script
            }
            if let kept = named, [.standby, .retired].contains(kept.state) {
                return try await activateScript(app, target: kept, live: live, hold: false, cause: cause)
            }
            var script = try deployScript(
                app, spec: spec, live: live, cause: live?.sha == spec.sha ? "config changed" : cause, at: time ?? clock.date)
            script.mark = mark
            return script
        case .rollback:
            guard let kept = named, kept.state != .live else {
                throw DeployError.noRelease(app: app.name, wanted: String(spec.sha.prefix(12)), kept: ["it is live, not kept"])
            }
            return try await activateScript(app, target: kept, live: live, hold: true, cause: "rollback")
        case .retire:
            guard let release = named else {
                throw DeployError.noRelease(app: app.name, wanted: String(spec.sha.prefix(12)), kept: [])
            }
            return try retireScript(app, keepRunning: live?.id == release.id ? nil : live, only: release)
        case .destroy:
            guard let release = named else {
                throw DeployError.noRelease(app: app.name, wanted: String(spec.sha.prefix(12)), kept: [])
            }
            return destroyScript(app, release: release)
        case .remove:
            return try removeScript(app)
        }
    }

    /// The plan `jailpilot plan` prints for `action` on `spec`: the script, rendered.
    public func plan(_ action: ReleasePlan.Action, app: AppConfig, spec: JailSpec, mark: Int = 0, at time: Date? = nil)
        async throws -> [HostStep]
    {
        try await render(try await script(action, app: app, spec: spec, mark: mark, at: time), at: time)
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
