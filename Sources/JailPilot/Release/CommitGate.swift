import FoundationEssentials

/// Checks a commit before it is built: what may be deployed over the live release.
public protocol CommitChecking: Sendable {
    /// Throws `CommitRefusal` unless `sha` may replace `live`; `fromBranch`: it is the branch
    /// head the agent follows (a pin or `--sha` names its commit on purpose, and may go back).
    func check(_ app: AppConfig, sha: String, live: String?, fromBranch: Bool) async throws
    /// Throws `CommitRefusal` unless the live commit `sha` still carries a good signature by a
    /// key of `app`'s (keys change; the release keeps running either way).
    func verifyLive(_ app: AppConfig, sha: String) async throws
}

/// What the gate asks of an app's history.
public protocol CommitHistory: Sendable {
    /// Whether `sha` is `ancestor` or descends from it (false when `ancestor` is unknown).
    func descends(_ sha: String, from ancestor: String) async throws -> Bool
    /// The commits reachable from `head` but not from `base`, oldest first; nil past `limit`.
    func commits(to head: String, since base: String?, limit: Int) async throws -> [String]?
    /// Throws `CommitRefusal` unless `commit` carries a good signature by a key of `app`'s.
    func verifySignature(_ app: AppConfig, commit: String) async throws
}

/// The gate: no rewind of the followed branch unless `allow_rewind`, then the signatures that
/// `verify` and `verify_scope` ask for. Its history is the app's mirror (libgit2 for ancestry,
/// ssh-keygen or gpgv for signatures) or, in tests, one held in memory.
public struct CommitGate: CommitChecking {
    let history: @Sendable (AppConfig) -> any CommitHistory
    /// Commits a strict check walks at most between the live release and the new one.
    public static let strictLimit = 1000

    public init(history: @escaping @Sendable (AppConfig) -> any CommitHistory) { self.history = history }

    /// The gate over the apps' mirrors under `runtime`'s state_dir.
    public init(runtime: Runtime) {
        self.init { app in MirrorHistory(mirror: Mirror(path: runtime.layout.mirror(app.name)), runtime: runtime) }
    }

    /// What a refusal of `app`'s commit depends on: the verification, its key file as it is now
    /// (inode, size, mtime), allow_rewind and, with `live`, the live release (a rewind or a
    /// strict range is relative to it). A quarantine for a refusal holds while it is the same.
    public static func stamp(_ app: AppConfig, live: String? = nil) -> String {
        let policy = app.verification
        let keys = policy.keys.map { FileIO.stamp($0) ?? "missing" } ?? "-"
        let base = "\(policy.method.rawValue) \(policy.scope.rawValue) \(keys) rewind=\(policy.allowRewind)"
        return live.map { base + " live=\($0)" } ?? base
    }

    public func verifyLive(_ app: AppConfig, sha: String) async throws {
        guard app.verification.method != .none else { return }
        try await history(app).verifySignature(app, commit: sha)
    }

    public func check(_ app: AppConfig, sha: String, live: String?, fromBranch: Bool) async throws {
        let history = self.history(app)
        let policy = app.verification
        if fromBranch, !policy.allowRewind, let live, live != sha {
            // A live commit the history no longer has cannot be an ancestor of the head either.
            let forward = (try? await history.descends(sha, from: live)) ?? false
            if !forward {
                throw CommitRefusal(
                    app: app.name, sha: sha, reason: .rewind,
                    detail:
                        "the branch head is not a descendant of the live release \(live.prefix(12)) (a force-push back, or a replay of an older commit)"
                )
            }
        }
        guard policy.method != .none else { return }
        var commits = [sha]
        if policy.scope == .strict, let live, live != sha {
            guard let range = try await history.commits(to: sha, since: live, limit: Self.strictLimit) else {
                throw CommitRefusal(
                    app: app.name, sha: sha, reason: .tooManyCommits,
                    detail: "more than \(Self.strictLimit) commits since the live release \(live.prefix(12)) to verify")
            }
            commits = range.isEmpty ? [sha] : range
        }
        for commit in commits {
            do {
                try await history.verifySignature(app, commit: commit)
            } catch var refusal as CommitRefusal {
                refusal.deploying = sha
                throw refusal
            }
        }
    }
}

/// An app's history as its bare mirror has it.
struct MirrorHistory: CommitHistory {
    let mirror: Mirror
    let runtime: Runtime

    func descends(_ sha: String, from ancestor: String) async throws -> Bool { try await mirror.descends(sha, from: ancestor) }

    func commits(to head: String, since base: String?, limit: Int) async throws -> [String]? {
        try await mirror.commits(to: head, since: base, limit: limit)
    }

    func verifySignature(_ app: AppConfig, commit: String) async throws {
        try await SignatureVerifier(runtime: runtime).verify(app, commit: commit, mirror: mirror)
    }
}
