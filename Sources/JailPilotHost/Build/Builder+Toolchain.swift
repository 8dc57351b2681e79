import JailPilotCore

/// Which Go a build gets, and whether the commit's go.mod accepts it: said before any build.
extension Builder {
    /// Why `app` at `sha` cannot be built with the Go of its build_path (its go.mod's `go`
    /// line is newer), with the fix; nil when it can, or when either cannot be known.
    func toolchainProblem(_ app: AppConfig, sha: String, mirror: Mirror, available: GoVersion) async -> String? {
        let goMod = (app.buildDir.map { "\($0)/" } ?? "") + "go.mod"
        guard let bytes = try? await mirror.file(goMod, at: sha), let text = String(validating: bytes, as: UTF8.self) else {
            return nil
        }
        let requirement = GoModRequirement(goMod: text)
        guard requirement.go != nil else { return nil }
        return requirement.problem(available: available, buildPath: buildPath(app), goMod: goMod, platform: agent.platform)
    }

    /// The version of the Go `app`'s builds get (its build_path, in the build template on
    /// FreeBSD); nil when none is found there.
    public func toolchainVersion(_ app: AppConfig) async -> GoVersion? {
        let root = (try? confinement())?.toolchainRoot ?? ""
        return await Self.goVersion(buildPath: buildPath(app), root: root, runner: runner)
    }

    /// The version of the first `go` on `buildPath` (inside `root`, a build template, on
    /// FreeBSD): `go env GOVERSION`, run with nothing of any module around it.
    public static func goVersion(buildPath: String, root: String = "", runner: any ProcessRunning) async -> GoVersion? {
        guard let go = goBinary(buildPath: buildPath, root: root) else { return nil }
        let command = Command(
            go, ["env", "GOVERSION"],
            environment: ["PATH": buildPath, "GOTOOLCHAIN": "local", "GOENV": "off", "HOME": "/nonexistent", "GOFLAGS": ""],
            workingDirectory: "/")
        guard let result = try? await runner.run(command, timeout: .seconds(20)), result.succeeded else { return nil }
        return GoVersion(result.stdoutText.trimmedWhitespace)
    }

    /// The first executable `go` in `buildPath`'s directories (under `root`).
    public static func goBinary(buildPath: String, root: String = "") -> String? {
        buildPath.split(separator: ":").map { "\(root)\($0)/go" }.first { FileIO.isExecutable($0) }
    }
}
