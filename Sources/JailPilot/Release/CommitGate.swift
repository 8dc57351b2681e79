import FoundationEssentials

/// Checks a commit before it is built: what may be deployed over the live release.
public protocol CommitChecking: Sendable {
    /// Throws `CommitRefusal` unless `sha` may replace `live`. `fromBranch`: `sha` is the branch
    /// head the agent follows, which must descend from the live release and from `mark`, the
    /// app's commit mark (the newest head it had live), unless allow_rewind; a pin or `--sha`
    /// names its commit on purpose, and may go back. Returns who signed what it verified.
    @discardableResult
    func check(_ app: AppConfig, sha: String, live: String?, mark: String?, fromBranch: Bool) async throws -> GatePass
    /// Throws `CommitRefusal` unless the live commit `sha` still carries a good signature by a
    /// key of `app`'s (keys change; the release keeps running either way).
    func verifyLive(_ app: AppConfig, sha: String) async throws
    /// The head of `app`'s `promoted_from` ring as the check sees it; nil without a ring (or
    /// when the ring's branch is missing).
    func ringHead(_ app: AppConfig) async -> String?
}

/// What the gate asks of an app's history.
public protocol CommitHistory: Sendable {
    /// Whether `sha` is `ancestor` or descends from it (false when `ancestor` is unknown).
    func descends(_ sha: String, from ancestor: String) async throws -> Bool
    /// The commits reachable from `head` but not from `base`, oldest first; nil past `limit`.
    func commits(to head: String, since base: String?, limit: Int) async throws -> [String]?
    /// Throws `CommitRefusal` unless `commit` carries a good signature by a key of `app`'s.
    func verifySignature(_ app: AppConfig, commit: String) async throws
    /// As `verifySignature`, and returns who signed (nil when the history cannot say).
    func verifiedSigner(_ app: AppConfig, commit: String) async throws -> String?
    /// The head of `branch` of `app`'s remote as last fetched; nil when it has none.
    func head(of branch: String, app: AppConfig) async -> String?
}

extension CommitHistory {
    public func verifiedSigner(_ app: AppConfig, commit: String) async throws -> String? {
        try await verifySignature(app, commit: commit)
        return nil
    }
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
    /// (inode, size, mtime), allow_rewind and, with `live`, the live release and the commit mark
    /// (a strict range and a rewind are relative to them). A quarantine for a refusal holds
    /// while it is the same.
    /// With a `promoted_from` ring, its head too: a commit refused as not promoted is checked
    /// again once the ring moves.
    public static func stamp(_ app: AppConfig, live: String? = nil, mark: String? = nil, ring: String? = nil) -> String {
        let policy = app.verification
        let keys = policy.keys.map { FileIO.stamp($0) ?? "missing" } ?? "-"
        let base = "\(policy.method.rawValue) \(policy.scope.rawValue) \(keys) rewind=\(policy.allowRewind)"
        let ringPart = app.promotedFrom.map { " \($0)=\(ring ?? "missing")" } ?? ""
        return base + (live.map { " live=\($0)" } ?? "") + (mark.map { $0 == live ? "" : " mark=\($0)" } ?? "") + ringPart
    }

    public func ringHead(_ app: AppConfig) async -> String? {
        guard let ring = app.promotedFrom else { return nil }
        return await history(app).head(of: ring, app: app)
    }

    public func verifyLive(_ app: AppConfig, sha: String) async throws {
        guard app.verification.method != .none else { return }
        try await history(app).verifySignature(app, commit: sha)
    }

    /// Whether `sha` is `ancestor` or descends from it in `app`'s history (false when unknown:
    /// a commit the history no longer has cannot be an ancestor of the head either).
    func descends(_ app: AppConfig, _ sha: String, from ancestor: String) async -> Bool {
        if sha == ancestor { return true }
        return (try? await history(app).descends(sha, from: ancestor)) ?? false
    }

    @discardableResult
    public func check(_ app: AppConfig, sha: String, live: String?, mark: String?, fromBranch: Bool) async throws -> GatePass {
        if fromBranch, !app.verification.allowRewind {
            for (floor, what) in [(live, "the live release"), (mark, "the newest branch head it had live")] {
                guard let floor, await !descends(app, sha, from: floor) else { continue }
                let now = floor == live ? "" : " (live now: \(live.map { String($0.prefix(12)) } ?? "none"))"
                throw CommitRefusal(
                    app: app.name, sha: sha, reason: .rewind,
                    detail:
                        "the branch head is not a descendant of \(what) \(floor.prefix(12))\(now) (a force-push back, or a replay of an older commit)"
                )
            }
        }
        if fromBranch, let ring = app.promotedFrom {
            // Checked on every host, against the ring's ref fetched with the branch: what the
            // ring before has not had cannot be deployed here, whoever pushed it.
            guard let ringHead = await ringHead(app) else {
                throw CommitRefusal(
                    app: app.name, sha: sha, reason: .notPromoted,
                    detail: "the remote has no branch '\(ring)' (promoted_from) to check it against")
            }
            guard await descends(app, ringHead, from: sha) else {
                throw CommitRefusal(
                    app: app.name, sha: sha, reason: .notPromoted,
                    detail:
                        "\(app.branch) moved to a commit that is not on \(ring) (its head: \(ringHead.prefix(12))): pushed to \(app.branch) directly, past the ring before"
                )
            }
        }
        return try await verify(app, sha: sha, live: live, history: history(app))
    }

    private func verify(_ app: AppConfig, sha: String, live: String?, history: any CommitHistory) async throws -> GatePass {
        let policy = app.verification
        guard policy.method != .none else { return GatePass() }
        var commits = [sha]
        if policy.scope == .strict, let live, live != sha {
            guard let range = try await history.commits(to: sha, since: live, limit: Self.strictLimit) else {
                throw CommitRefusal(
                    app: app.name, sha: sha, reason: .tooManyCommits,
                    detail: "more than \(Self.strictLimit) commits since the live release \(live.prefix(12)) to verify")
            }
            commits = range.isEmpty ? [sha] : range
        }
        var pass = GatePass()
        for commit in commits {
            do {
                pass.signed.append(GatePass.Signed(commit: commit, signer: try await history.verifiedSigner(app, commit: commit)))
            } catch var refusal as CommitRefusal {
                refusal.deploying = sha
                throw refusal
            }
        }
        return pass
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
        _ = try await verifiedSigner(app, commit: commit)
    }

    func verifiedSigner(_ app: AppConfig, commit: String) async throws -> String? {
        try await SignatureVerifier(runtime: runtime).verify(app, commit: commit, mirror: mirror)
    }

    func head(of branch: String, app: AppConfig) async -> String? { await mirror.head(of: branch) }
}
