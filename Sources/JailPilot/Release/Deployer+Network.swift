import FoundationEssentials

extension Deployer {
    /// What the jails may reach now: every release that holds an address, with its app's `reach`,
    /// over every app the host serves now (not only those this deployer's config knew).
    /// `adding` is a release about to get its address (a plan's): where the store will list it.
    public func networkPolicy(adding new: JailNetworkPolicy.Member? = nil) throws -> JailNetworkPolicy {
        let apps = runtime.served.all
        var members: [JailNetworkPolicy.Member] = []
        for app in apps {
            // Newest first, as the store lists an app's releases.
            if let new, new.app == app.name { members.append(new) }
            for release in try store.releases(app: app.name) where ![.destroyed, .failed].contains(release.state) {
                guard let address = release.address else { continue }
                members.append(JailNetworkPolicy.Member(app: app.name, address: address, port: app.port))
            }
        }
        return JailNetworkPolicy(members: members, reach: Dictionary(uniqueKeysWithValues: apps.map { ($0.name, $0.reach) }))
    }

    /// Puts the current policy in force (the driver's nftables table or pf anchor). Computed
    /// and loaded under one lock (between the agent's watchers and a CLI command alike): two
    /// deploys at once could otherwise load in the other order, and the later load would be the
    /// earlier policy, without the other release's address.
    public func syncNetworkPolicy() async throws {
        try await LockFile.withExclusive(runtime.layout.policyLock) {
            try await host.applyNetworkPolicy(try networkPolicy())
        }
    }

    /// Starts a release's jail under a policy that already knows its address. What the host
    /// cannot enforce now (limits without resource accounting, the policy without pf) does not
    /// stop the start: it is logged once per agent run, and `status` and `doctor` show it.
    func startJail(_ spec: JailSpec) async throws {
        try await syncNetworkPolicy()
        for gap in await host.enforcementGaps() {
            runtime.log.emitOnce(
                key: "host.not_enforced \(gap.degrades ?? gap.name)",
                Event(
                    app: spec.app, sha: spec.sha, name: "host.not_enforced",
                    fields: [("what", gap.degrades ?? gap.name), ("detail", gap.detail), ("fix", gap.fix ?? "")]))
        }
        try await host.start(spec)
    }

    /// Starts a stopped release and waits for its health gate: how a restart, an undo and a
    /// resumed probation bring a release back. A deploy runs the two as script steps of their
    /// own, with its release step between them.
    func bringBack(_ app: AppConfig, _ spec: JailSpec, passes: Int? = nil) async throws {
        try await startJail(spec)
        try await healthGate(app, spec, passes: passes)
    }
}
