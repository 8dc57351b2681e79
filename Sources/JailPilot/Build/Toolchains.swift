import JailPilotCore
import JailPilotHost

/// The Go each app's builds get (its build_path) and whether the commit it follows accepts it
/// (go.mod's `go` line, read from the app's mirror: no fetch, no checkout). `check` and
/// `doctor` say it before any build does.
public enum Toolchains {
    /// One check per distinct build_path (the Go found there), then one per app whose mirror
    /// holds its branch head with a go.mod that Go cannot build.
    public static func checks(_ config: AgentConfig, runner: any ProcessRunning) async -> [HostCheck] {
        let root = config.agent.platform == .freebsd ? "\(config.jails.mountpoint)/templates/\(config.agent.buildTemplate)" : ""
        var versions: [String: GoVersion?] = [:]
        var checks: [HostCheck] = []
        for app in config.apps {
            let path = app.buildPath ?? config.agent.buildPath
            guard versions[path] == nil else { continue }
            let version = await Builder.goVersion(buildPath: path, root: root, runner: runner)
            versions[path] = .some(version)
            let where_ = root.isEmpty ? "" : " in the build template"
            checks.append(
                HostCheck(
                    "go (build_path \(path))", ok: version != nil,
                    version.map { "go\($0)\(where_), used by \(users(config, path))" } ?? "no go found in it\(where_)",
                    fix: config.agent.platform == .freebsd
                        ? "pkg --rootdir \(root) install go (or goNNN, and name /usr/local/goNNN/bin in build_path)"
                        : "apt-get install golang-go, or put a Go's bin directory in build_path"))
        }
        for app in config.apps {
            let path = app.buildPath ?? config.agent.buildPath
            guard let available = versions[path] ?? nil else { continue }
            let mirror = Mirror(path: StateLayout(root: config.agent.stateDir).mirror(app.name))
            // The commit it deploys: the pin (if the mirror has it), else the branch head.
            guard FileIO.exists(mirror.path),
                let sha = app.pin != nil
                    ? try? await mirror.resolve(app.pin, branch: app.branch, url: app.repo) : await mirror.head(of: app.branch)
            else { continue }
            let goMod = (app.buildDir.map { "\($0)/" } ?? "") + "go.mod"
            guard let bytes = try? await mirror.file(goMod, at: sha), let text = String(validating: bytes, as: UTF8.self) else {
                continue
            }
            if let problem = GoModRequirement(goMod: text).problem(
                available: available, buildPath: path, goMod: goMod, platform: config.agent.platform)
            {
                checks.append(
                    HostCheck(
                        "go for \(app.name)", ok: false, "\(app.branch) at \(sha.prefix(12)): \(problem)",
                        fix: "see above; nothing of \(app.name) is built until then"))
            }
        }
        return checks
    }

    static func users(_ config: AgentConfig, _ path: String) -> String {
        config.apps.filter { ($0.buildPath ?? config.agent.buildPath) == path }.map(\.name).joined(separator: ", ")
    }
}
