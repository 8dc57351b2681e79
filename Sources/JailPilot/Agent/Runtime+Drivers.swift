/// The platform's jail driver and router for a runtime.
extension Runtime {
    /// The jail driver `[agent] platform` names.
    public func jailHost() throws -> any JailHost {
        let owner = try OwnerID.load(stateDir: config.agent.stateDir)
        switch config.agent.platform {
        case .linux: return LinuxJails(settings: config.jails, runner: runner, owner: owner)
        case .freebsd: return FreeBSDJails(settings: config.jails, runner: runner, owner: owner, paths: freebsdPaths)
        }
    }

    /// Caddy, driven through its admin API.
    public func router() -> any Router { CaddyRouter(settings: config.caddy) }

    /// A deployer using this runtime's driver and router.
    public func deployer(buildSlots: BuildSlots? = nil, progress: @escaping @Sendable (String) -> Void = { _ in }) throws
        -> Deployer
    {
        Deployer(runtime: self, host: try jailHost(), router: router(), buildSlots: buildSlots, progress: progress)
    }
}
