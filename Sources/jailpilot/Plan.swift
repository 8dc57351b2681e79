import ArgumentParser
import JailPilot

struct Plan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the exact commands and files a deploy, rollback, retire or destroy would run and write; changes nothing."
    )

    @OptionGroup var options: ConfigOption
    @Argument(help: "The app, as named in agent.conf.") var app: String
    @Option(help: "The commit (deploy: 7-40 hex; other actions: a known release's SHA prefix).") var sha: String?
    @Option(help: "deploy, rollback, retire, destroy or remove.") var action: ReleasePlan.Action = .deploy
    @Flag(help: "With --action rollback: the plan of `rollback --with-data` (what it stops, restores and destroys).")
    var withData = false

    func run() async throws {
        let runtime = try options.runtime(echo: false)
        let app = try runtime.app(self.app)
        let deployer = try runtime.deployer()
        let releases = try runtime.store.releases(app: app.name)
        let live = releases.first { $0.state == .live }
        func spec(_ release: Release) -> JailSpec { JailSpec(release: release, app: app, layout: runtime.layout) }
        if withData {
            guard action == .rollback else { throw ValidationError("--with-data goes with --action rollback") }
            let plan = try await deployer.dataRollbackPlan(app, to: sha)
            print(plan.describe(app: app).split(separator: "\n").map { "# \($0)" }.joined(separator: "\n"))
            let steps = try await deployer.render(try deployer.dataRollbackScript(app, plan: plan))
            print(
                "# rollback --with-data \(plan.target.name) on \(runtime.config.agent.platform.rawValue): nothing below has been run"
            )
            print(ReleasePlan.render(steps), terminator: "")
            return
        }
        let target: JailSpec
        var mark = 0
        switch action {
        case .deploy:
            let commit = try await commitToDeploy(app, runtime: runtime)
            let follows = Deployer.followsBranch(app, sha: sha, cause: "manual")
            // Its environment is read as a deploy would: the plan shows names, never values.
            target = try await deployer.deploySpec(app, commit: commit, followsBranch: follows)
            mark = follows ? target.mark?.generation ?? 0 : 0
            print(
                "# fetch \(RemoteAccess(app: app).redactedURL) \(app.branch), then build in a staging directory: \(app.build.map(ShellQuote.quote).joined(separator: " "))"
            )
            try await printBuildJail(app, sha: commit, runtime: runtime)
        case .remove:
            target = live.map(spec) ?? JailSpec(found: "\(app.name)_-", service: app.service)
        case .rollback, .retire, .destroy:
            let candidates = releases.filter { $0.state.hasJail && (action != .rollback || $0.state != .live) }
            let chosen =
                sha.map { wanted in candidates.first { $0.sha.hasPrefix(wanted.lowercased()) } }
                ?? (action == .rollback ? candidates.filter { $0.state != .live }.max { $0.updated < $1.updated } : nil)
            guard let chosen else {
                throw DeployError.noRelease(
                    app: app.name, wanted: sha ?? "(give --sha)",
                    kept: candidates.map { "\($0.sha.prefix(12)) (\($0.state.rawValue))" })
            }
            target = spec(chosen)
        }
        if action != .remove { try target.validate() }
        let script = try await deployer.script(action, app: app, spec: target, mark: mark)
        let steps = try await deployer.render(script)
        let what = script.kind.rawValue == action.rawValue ? action.rawValue : "\(action.rawValue) (\(script.kind.rawValue))"
        print(
            "# \(what) \(action == .remove ? app.name : target.name) on \(runtime.config.agent.platform.rawValue): nothing below has been run"
        )
        print(ReleasePlan.render(steps), terminator: "")
    }

    /// FreeBSD: the build jail the build runs in, from clone to destroy.
    func printBuildJail(_ app: AppConfig, sha: String, runtime: Runtime) async throws {
        guard runtime.config.agent.platform == .freebsd, runtime.config.agent.buildSandbox else { return }
        guard let jail = try runtime.buildConfinement() as? FreeBSDBuildJail else { return }
        let builder = Builder(agent: runtime.config.agent, runner: runtime.runner, store: runtime.store, log: runtime.log)
        let toolchain = await builder.toolchainVersion(app)
        let (command, scope) = builder.job(app, sha: sha, id: "\(app.name)-\(sha.prefix(12))-plan", toolchain: toolchain)
        print("# the build, in a jail of its own (removed afterwards, whatever happened):")
        print(ReleasePlan.render(jail.plan(command, scope)), terminator: "")
    }

    /// --sha (resolved in the mirror when short), else the pin or the remote branch head.
    func commitToDeploy(_ app: AppConfig, runtime: Runtime) async throws -> String {
        let wanted = sha ?? app.pin
        if let wanted, Names.isFullSHA(wanted.lowercased()) { return wanted.lowercased() }
        let access = RemoteAccess(app: app)
        guard let wanted else { return try await RemoteRefs().head(of: app.branch, at: access) }
        if let problem = Names.shaProblem(wanted) { throw GitWatchError.badURL(url: "--sha \(wanted)", problem: problem) }
        // A short SHA is resolved in the mirror, fetched first when this state_dir has none yet
        // (the mirror is a cache; nothing on the host changes).
        let mirror = Mirror(path: runtime.layout.mirror(app.name))
        if !FileIO.exists(mirror.path) { _ = try await mirror.fetch(access, branch: app.branch) }
        return try await mirror.resolve(wanted.lowercased(), branch: app.branch, url: access.redactedURL)
    }
}

extension ReleasePlan.Action: ExpressibleByArgument {}
