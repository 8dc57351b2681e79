import FoundationEssentials
import Glibc
import JailPilotCore

/// A built binary ready to install, and how it came to be.
public struct BuildOutcome: Sendable {
    public var artifact: String
    public var log: String
    /// True when an earlier successful build of the same commit and build settings was reused.
    public var reused: Bool
    public var took: Duration

    public init(artifact: String, log: String, reused: Bool, took: Duration) {
        self.artifact = artifact
        self.log = log
        self.reused = reused
        self.took = took
    }
}

/// Builds one app at one commit: export the tree into a fresh staging directory, run the build
/// command there with a minimal explicit environment and a time limit, keep the log, move the
/// binary into `artifacts/`, and remove the staging directory whatever happened.
public struct Builder: Sendable {
    public let layout: StateLayout
    public let agent: AgentSettings
    public let runner: any ProcessRunning
    public let store: StateStore
    public let log: EventLog
    /// What confines each build (nil: unconfined, `build_sandbox = false`); an error here fails
    /// the build before it runs.
    public let confinement: @Sendable () throws -> (any BuildConfinement)?
    /// What reaching the build step does (nothing unless a crash test injected its own).
    public var crash: any CrashPoints = NoCrashPoints()

    public init(
        agent: AgentSettings, runner: any ProcessRunning, store: StateStore, log: EventLog,
        confinement: @escaping @Sendable () throws -> (any BuildConfinement)? = { nil }
    ) {
        self.layout = StateLayout(root: agent.stateDir)
        self.agent = agent
        self.runner = runner
        self.store = store
        self.log = log
        self.confinement = confinement
    }

    /// Builds `app` at the full SHA `sha` from `mirror`, or reuses an earlier artifact.
    public func build(_ app: AppConfig, sha: String, mirror: Mirror) async throws -> BuildOutcome {
        let fingerprint = Self.fingerprint(app: app, agent: agent)
        if let done = try store.successfulBuild(app: app.name, sha: sha, fingerprint: fingerprint),
            FileIO.exists(done.artifact)
        {
            log.emit(app: app.name, sha: sha, "build.reused", [("artifact", done.artifact)])
            return BuildOutcome(artifact: done.artifact, log: done.log, reused: true, took: .zero)
        }
        let clock = ContinuousClock()
        let start = clock.now
        let toolchain = await toolchainVersion(app)
        let (command, scope) = job(
            app, sha: sha, id: "\(app.name)-\(sha.prefix(12))-\(UUID().uuidString.prefix(8).lowercased())", toolchain: toolchain)
        let staging = scope.writable[0]
        let buildLock: LockFile
        do { buildLock = try lockBuild(scope.id) } catch {
            throw fail(app, sha, .cannotStart(app: app.name, sha: sha, detail: "\(error)"), start: start, staging: staging)
        }
        // Set when the sandbox could not be removed completely: an empty staging directory is
        // what the agent's start-up sweep (reclaimAbandoned) finds it by.
        var leftover = false
        defer {
            try? FileIO.removeTree(staging)
            if leftover { try? FileIO.makeDirectories(staging) }
            unlockBuild(scope.id, buildLock)
        }
        let logPath = layout.buildLog(app.name, sha)
        let caches = Array(scope.writable.dropFirst())
        let sandbox: (any BuildConfinement)?
        do { sandbox = try confinement() } catch {
            throw fail(app, sha, .cannotStart(app: app.name, sha: sha, detail: "\(error)"), start: start, staging: staging)
        }
        do {
            for dir in [layout.logs(app.name), "\(staging)/tmp", "\(staging)/out"] + caches {
                try FileIO.makeDirectories(dir)
            }
            // The log holds whatever the build printed, which may be anything it could read: root only.
            try FileIO.replace(logPath, text: "# jailpilot build of \(app.name) at \(sha)\n", mode: 0o600)
            if let toolchain, let problem = await toolchainProblem(app, sha: sha, mirror: mirror, available: toolchain) {
                throw fail(app, sha, .toolchain(app: app.name, sha: sha, detail: problem), start: start, staging: staging)
            }
            let exported = try await mirror.export(sha, to: "\(staging)/src", limit: app.maxTreeSize)
            log.emit(
                app: app.name, sha: sha, "export.ok", took: clock.now - start,
                [("files", "\(exported.files)"), ("bytes", "\(exported.bytes)")])
            try sandbox?.own([staging])
            try sandbox?.ownOnce(caches)
        } catch let error as FileIOError where error.isDiskFull {
            throw fail(app, sha, .diskFull(app: app.name, sha: sha, detail: error.description), start: start, staging: staging)
        }
        if let sandbox {
            do { try await sandbox.prepare(scope) } catch {
                throw fail(app, sha, .cannotStart(app: app.name, sha: sha, detail: "\(error)"), start: start, staging: staging)
            }
        }
        return try await run(
            app, sha: sha, command: command, scope: scope, sandbox: sandbox, start: start, leftover: &leftover)
    }

    /// Build `id` of `app` at `sha`: its command (before confinement) and what it may use; the
    /// staging directory comes first in `writable`, the caches after it.
    /// `toolchain`: the Go of the app's build_path (`toolchainVersion`), which decides GOFLAGS.
    public func job(_ app: AppConfig, sha: String, id: String, toolchain: GoVersion? = nil) -> (Command, BuildScope) {
        let staging = "\(layout.staging)/\(id)"
        let caches = [layout.goBuildCache(app.name), layout.goModCache(app.name), layout.goPath(app.name), layout.home(app.name)]
        let argv = app.build.map { $0.replacing("{out}", with: "\(staging)/out/\(app.service)") }
        let command = Command(
            argv[0], Array(argv.dropFirst()), environment: environment(app, sha: sha, staging: staging, toolchain: toolchain),
            workingDirectory: "\(staging)/src" + (app.buildDir.map { "/\($0)" } ?? ""))
        let scope = BuildScope(
            id: id, writable: [staging] + caches, readOnly: Self.toolchainDirs(buildPath(app)), network: app.buildNetwork)
        return (command, scope)
    }

    /// Runs the build command (confined), tears the sandbox down, and keeps the binary;
    /// `leftover` is set when the sandbox could not be removed completely.
    private func run(
        _ app: AppConfig, sha: String, command: Command, scope: BuildScope, sandbox: (any BuildConfinement)?,
        start: ContinuousClock.Instant, leftover: inout Bool
    ) async throws -> BuildOutcome {
        let clock = ContinuousClock()
        let logPath = layout.buildLog(app.name, sha)
        let staging = scope.writable[0]
        let output = "\(staging)/out/\(app.service)"
        var command = command
        // The log names the build command; the sandbox around it goes in one field (its whole
        // bwrap line is in the build log's header).
        var fields = [("cmd", command.description)]
        if let sandbox {
            command = sandbox.wrap(command, scope)
            fields.append(("sandbox", sandbox.summary(scope)))
            try? FileIO.append(logPath, text: "# sandbox: \(command.description)\n")
        }
        log.emit(app: app.name, sha: sha, "build.started", fields)
        await crash.reach("build")
        let ran = await Result {
            try await runner.run(
                command, stdout: .append(path: logPath), stderr: .append(path: logPath), timeout: app.buildTimeout)
        }
        // Before anything of the build's output is trusted: nothing the build started may still
        // be running (a FreeBSD build jail outlives its command until it is removed).
        if let sandbox {
            do { try await sandbox.teardown(scope) } catch let left as BuildLeftover {
                // Nothing the build started runs any more: its result stands, and what is left
                // is swept at the agent's next start.
                leftover = true
                log.emit(
                    app: app.name, sha: sha, "build.teardown_failed",
                    [("jail", left.jail), ("reason", left.detail), ("fix", left.fix)])
            } catch {
                let detail = "the build ran, but its sandbox could not be removed: \(error)"
                throw fail(app, sha, .cannotStart(app: app.name, sha: sha, detail: detail), start: start, staging: staging)
            }
        }
        let result: ProcessResult
        do { result = try ran.get() } catch {
            throw fail(app, sha, .cannotStart(app: app.name, sha: sha, detail: "\(error)"), start: start, staging: staging)
        }
        if Task.isCancelled { throw fail(app, sha, .cancelled(app: app.name, sha: sha), start: start, staging: staging) }
        let tail = Self.tail(of: logPath, lines: 20)
        if result.timedOut {
            throw fail(
                app, sha, .timedOut(app: app.name, sha: sha, limit: app.buildTimeout, log: logPath, tail: tail), start: start,
                staging: staging)
        }
        guard result.status == 0 else {
            if Self.looksDiskFull(tail) {
                throw fail(
                    app, sha, .diskFull(app: app.name, sha: sha, detail: "no space left on device (see \(logPath))"),
                    start: start,
                    staging: staging)
            }
            throw fail(
                app, sha, .failed(app: app.name, sha: sha, status: result.status, log: logPath, tail: tail), start: start,
                staging: staging)
        }
        guard FileIO.exists(output) else {
            throw fail(
                app, sha, .noArtifact(app: app.name, sha: sha, expected: output, log: logPath), start: start, staging: staging)
        }
        let destination = layout.artifactDir(app.name, sha)
        let artifact = layout.artifact(app, sha)
        do {
            try FileIO.makeDirectories(destination)
            guard rename(output, artifact) == 0 else { throw FileIOError(operation: "rename", path: artifact, code: errno) }
            // The build user made it; from here on it is root's, and the build user cannot change it.
            // Without root (an unsandboxed build by a contributor) it is this user's already.
            if geteuid() == 0, lchown(artifact, 0, 0) != 0 { throw FileIOError(operation: "chown", path: artifact, code: errno) }
            guard chmod(artifact, 0o755) == 0 else { throw FileIOError(operation: "chmod", path: artifact, code: errno) }
        } catch let error as FileIOError {
            // Only a full disk is a full disk: EPERM and the like are said as they are.
            let failure: BuildError =
                error.isDiskFull
                ? .diskFull(app: app.name, sha: sha, detail: error.description)
                : .installFailed(app: app.name, sha: sha, detail: "\(error)")
            throw fail(app, sha, failure, start: start, staging: staging)
        }
        let took = clock.now - start
        try store.saveBuild(
            BuildRecord(
                app: app.name, sha: sha, fingerprint: Self.fingerprint(app: app, agent: agent), artifact: artifact, log: logPath,
                ok: true, took: took)
        )
        log.emit(app: app.name, sha: sha, "build.ok", took: took, [("artifact", artifact)])
        return BuildOutcome(artifact: artifact, log: logPath, reused: false, took: took)
    }

    /// The first Go whose builds get -trimpath by default.
    static let trimpathFrom = GoVersion("1.20")!

    /// The build's PATH for `app`: its own `build_path`, else the agent's.
    func buildPath(_ app: AppConfig) -> String { app.buildPath ?? agent.buildPath }

    /// The build's complete environment: nothing is inherited from the agent.
    func environment(_ app: AppConfig, sha: String, staging: String, toolchain: GoVersion? = nil) -> [String: String] {
        var env = [
            "PATH": buildPath(app),
            "HOME": layout.home(app.name),
            "TMPDIR": "\(staging)/tmp",
            "GOCACHE": layout.goBuildCache(app.name),
            "GOMODCACHE": layout.goModCache(app.name),
            "GOPATH": layout.goPath(app.name),
            "GOENV": "off",
            "GOTOOLCHAIN": "local",
            "CGO_ENABLED": "0",
            "JAILPILOT_APP": app.name,
            "JAILPILOT_SHA": sha,
        ]
        // Each build runs in a staging directory of its own: without -trimpath the directory is
        // part of every compiled package's cache key, and a warm rebuild compiles the module's
        // packages again. From Go 1.20 on, the standard library is compiled into the cache too,
        // so -trimpath costs nothing cold; before, GOROOT holds it precompiled without
        // -trimpath, and -trimpath would recompile it on every cold cache (docs/BENCHMARKS.md,
        // "Warm builds"). build_env may set GOFLAGS otherwise.
        if let toolchain, toolchain >= Self.trimpathFrom { env["GOFLAGS"] = "-trimpath" }
        env.merge(agent.buildEnv) { $1 }
        env.merge(app.buildEnv) { $1 }
        return env
    }

    /// Removes the staging directory first (freeing space when the disk is full), then records the failure.
    private func fail(
        _ app: AppConfig, _ sha: String, _ error: BuildError, start: ContinuousClock.Instant, staging: String
    ) -> BuildError {
        try? FileIO.removeTree(staging)
        let took = ContinuousClock.now - start
        if case .cancelled = error {
            log.emit(app: app.name, sha: sha, "build.cancelled", took: took)
            return error
        }
        log.emit(app: app.name, sha: sha, "build.failed", took: took, [("reason", error.reason)])
        if case .failed(_, _, _, let logPath, _) = error {
            do {
                try store.saveBuild(
                    BuildRecord(
                        app: app.name, sha: sha, fingerprint: Self.fingerprint(app: app, agent: agent), artifact: "",
                        log: logPath, ok: false, took: took))
            } catch let unsaved {
                log.emitOnce(
                    key: "build.unrecorded \(app.name)",
                    Event(
                        app: app.name, sha: sha, name: "build.unrecorded",
                        fields: [
                            ("error", "\(unsaved)"), ("effect", "the failed build is missing from the store's build records"),
                            ("log", logPath), ("fix", "check the disk of state_dir and state.db (jailpilot doctor); said once"),
                        ]))
            }
        }
        return error
    }

    /// A stable hash of everything that changes what a build produces.
    static func fingerprint(app: AppConfig, agent: AgentSettings) -> String {
        var text = app.build.joined(separator: "\u{1}") + "\u{2}" + app.service + "\u{2}" + (app.buildPath ?? agent.buildPath)
        if let dir = app.buildDir { text += "\u{2}dir=\(dir)" }
        for (k, v) in agent.buildEnv.merging(app.buildEnv, uniquingKeysWith: { $1 }).sorted(by: { $0.key < $1.key }) {
            text += "\u{2}\(k)=\(v)"
        }
        return String(fnv1a(text), radix: 16)
    }

    static func tail(of path: String, lines: Int) -> String {
        guard let text = try? FileIO.readText(path, lastBytes: 65536) else { return "" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines + 1)
            .map { "  | \($0)" }.joined(separator: "\n")
    }

    /// build_path entries outside /usr (a toolchain in /opt/go/bin, say): the sandbox binds them
    /// read-only (the parent of a `bin` directory, so the toolchain's GOROOT comes along).
    static func toolchainDirs(_ path: String) -> [String] {
        path.split(separator: ":").map(String.init).filter {
            $0.hasPrefix("/") && !$0.hasPrefix("/usr/") && !["/bin", "/sbin", "/usr"].contains($0) && FileIO.exists($0)
        }.map { $0.hasSuffix("/bin") ? String($0.dropLast(4)) : $0 }
    }

    static func looksDiskFull(_ tail: String) -> Bool {
        tail.contains("no space left on device") || tail.contains("No space left on device")
    }
}
