/// What an agent acts through besides its config: the host's own (commands, the platform's jail
/// driver, Caddy, git, go, the system clock) unless a test runs it on others.
package struct AgentSeams: Sendable {
    /// Runs the host's commands.
    package var runner: any ProcessRunning
    /// Where the FreeBSD driver finds /etc and /var/log.
    package var freebsdPaths: FreeBSDPaths
    /// The release engine's clock (the store's too).
    package var clock: any ReleaseClock
    /// What reaching a step of a deploy does (nothing: only crash tests make it something).
    package var crash: any CrashPoints
    /// Where each watcher reads its app's branch heads.
    package var heads: any BranchHeads
    /// Makes the deployer on the agent's runtime and build slots; nil: the runtime's own
    /// (the platform's driver, Caddy, git and go).
    package var deployer: (@Sendable (Runtime, BuildSlots) throws -> Deployer)?

    package init(
        runner: any ProcessRunning = HostProcessRunner(), freebsdPaths: FreeBSDPaths = FreeBSDPaths(),
        clock: any ReleaseClock = SystemClock(), crash: any CrashPoints = NoCrashPoints(),
        heads: any BranchHeads = RemoteBranchHeads(),
        deployer: (@Sendable (Runtime, BuildSlots) throws -> Deployer)? = nil
    ) {
        self.runner = runner
        self.freebsdPaths = freebsdPaths
        self.clock = clock
        self.crash = crash
        self.heads = heads
        self.deployer = deployer
    }
}

/// Where a watcher learns what its app's remote holds.
package protocol BranchHeads: Sendable {
    /// The head of `app`'s branch, and of its `promoted_from` branch (nil: none, or not there).
    func heads(of app: AppConfig) async throws -> (head: String, ring: String?)
}

/// The remote's heads, listed through libgit2 (one listing for both branches).
package struct RemoteBranchHeads: BranchHeads {
    package init() {}

    package func heads(of app: AppConfig) async throws -> (head: String, ring: String?) {
        let (head, ring) = try await RemoteRefs().heads(of: app.branch, and: app.promotedFrom, at: RemoteAccess(app: app))
        return (head, ring)
    }
}
