/// The first half of a release: remote → mirror → commit → built binary.
public struct SourcePipeline: Sendable {
    public let runtime: Runtime

    public init(runtime: Runtime) { self.runtime = runtime }

    /// Fetches `app`'s branch into its mirror, logging how much was transferred.
    public func fetch(_ app: AppConfig) async throws -> (Mirror, FetchStats) {
        let mirror = Mirror(path: runtime.layout.mirror(app.name))
        let clock = ContinuousClock()
        let start = clock.now
        let access = RemoteAccess(app: app)
        await runtime.crash.reach("fetch")
        do {
            let stats = try await mirror.fetch(access, branch: app.branch, also: app.promotedFrom)
            try runtime.store.saveHead(app: app.name, branch: app.branch, sha: stats.head)
            runtime.log.emit(
                app: app.name, sha: stats.head, "fetch.ok", took: clock.now - start,
                [("objects", "\(stats.receivedObjects)"), ("bytes", "\(stats.receivedBytes)")])
            return (mirror, stats)
        } catch {
            runtime.log.emit(app: app.name, "fetch.failed", took: clock.now - start, [("error", "\(error)")])
            throw error
        }
    }

    /// The commit to build: `sha` if given, else the pin, else the fetched branch head.
    public func resolve(_ app: AppConfig, sha: String?, mirror: Mirror, head: String) async throws -> String {
        guard let wanted = sha ?? app.pin else { return head }
        if let problem = Names.shaProblem(wanted) { throw GitWatchError.badURL(url: "--sha \(wanted)", problem: problem) }
        return try await mirror.resolve(wanted.lowercased(), branch: app.branch, url: RemoteAccess(app: app).redactedURL)
    }

    /// The builder, confined as `[agent] build_sandbox` says.
    public var builder: Builder {
        var builder = Builder(
            agent: runtime.config.agent, runner: runtime.runner, store: runtime.store, log: runtime.log,
            confinement: { [runtime] in try runtime.buildConfinement() })
        builder.crash = runtime.crash
        return builder
    }

    /// Fetches; returns the full SHA of `sha`, else the pin, else the branch head.
    public func fetch(_ app: AppConfig, sha: String?) async throws -> String {
        let (mirror, stats) = try await fetch(app)
        return try await resolve(app, sha: sha, mirror: mirror, head: stats.head)
    }

    /// Builds `commit` from the app's mirror.
    /// A binary that needs libraries its jail cannot provide is refused here, at build time.
    public func build(_ app: AppConfig, commit: String) async throws -> BuildOutcome {
        let outcome = try await builder.build(app, sha: commit, mirror: Mirror(path: runtime.layout.mirror(app.name)))
        if let (root, dirs) = try runtime.jailHost().libraries, let linkage = ELFLinkage.read(outcome.artifact) {
            let missing = linkage.missing(in: root, libraryDirs: dirs)
            if !missing.isEmpty {
                throw BuildError.unlinkable(
                    app: app.name, sha: commit, missing: missing, template: root, platform: runtime.config.agent.platform)
            }
        }
        return outcome
    }

    /// Signatures and ancestry, checked with the real tools in the app's mirror.
    public var gate: any CommitChecking { CommitGate(runtime: runtime) }
}
