/// The platform's jail driver and router for a runtime.
extension Runtime {
    /// The jail driver `[agent] platform` names.
    public func jailHost() throws -> any JailHost {
        Self.jailHost(
            config: config, owner: try OwnerID.load(stateDir: config.agent.stateDir), runner: runner, paths: freebsdPaths,
            crash: crash)
    }

    /// The driver for `config` without a runtime (no store, no log): for read-only checks.
    public static func jailHost(
        config: AgentConfig, owner: OwnerID, runner: any ProcessRunning = HostProcessRunner(),
        paths: FreeBSDPaths = FreeBSDPaths(), crash: any CrashPoints = NoCrashPoints()
    ) -> any JailHost {
        switch config.agent.platform {
        case .linux:
            var host = LinuxJails(settings: config.jails, runner: runner, owner: owner)
            host.crash = crash
            return host
        case .freebsd:
            var host = FreeBSDJails(settings: config.jails, runner: runner, owner: owner, paths: paths)
            host.crash = crash
            return host
        }
    }

    /// What confines builds (`[agent] build_sandbox`): bubblewrap on Linux, a build jail on
    /// FreeBSD; nil when turned off.
    public func buildConfinement() throws -> (any BuildConfinement)? {
        let agent = config.agent
        guard agent.buildSandbox else { return nil }
        let account = try BuildAccount.resolve(user: agent.buildUser, platform: agent.platform)
        switch agent.platform {
        case .linux:
            return BuildSandbox(account: account, jailNetwork: config.jails.network, stateDir: agent.stateDir, runner: runner)
        case .freebsd:
            var jail = FreeBSDBuildJail(
                account: account, settings: config.jails, template: agent.buildTemplate,
                owner: try OwnerID.load(stateDir: agent.stateDir), runner: runner, confDir: layout.staging)
            jail.parallelBuilds = agent.maxParallelBuilds
            jail.netHelper = freebsdPaths.netHelper
            return jail
        }
    }

    /// Caddy, driven through its admin API.
    public func router() -> any Router { CaddyRouter(settings: config.caddy, webhook: config.webhook) }

    /// A deployer using this runtime's driver and router.
    public func deployer(buildSlots: BuildSlots? = nil, progress: @escaping @Sendable (String) -> Void = { _ in }) throws
        -> Deployer
    {
        Deployer(runtime: self, host: try jailHost(), router: router(), buildSlots: buildSlots, progress: progress)
    }
}
