/// What the commit gate says of one commit, asked without deploying it (`jailpilot verify`):
/// allowed, with who signed, or refused, with why and what to do.
public struct CommitVerdict: Sendable, Equatable, Encodable {
    public var app: String
    /// The commit asked about (full SHA).
    public var sha: String
    /// Whether a deploy of it would pass the gate.
    public var allowed: Bool
    /// The refusal's reason (`CommitRefusal.Reason`'s words), nil when allowed.
    public var reason: String?
    /// What the check saw, nil when allowed.
    public var detail: String?
    /// What to do about the refusal, nil when allowed.
    public var fix: String?
    /// The commit that failed when it is not `sha` (strict scope: one since the live release).
    public var failed: String?
    /// The commits whose signatures were checked, oldest first, with the key that signed each.
    public var signed: [GatePass.Signed]
    /// Checked as the branch head the agent follows (rewind and `promoted_from` ring included),
    /// or as a pin is (signatures only).
    public var asBranchHead: Bool
    /// What it was checked against: the live release and the app's commit mark.
    public var live: String?
    public var mark: String?
    /// The app's `promoted_from` ring, which a branch head must be on.
    public var ring: String?
    /// How the app verifies signatures: "none", or "ssh against <file>, verify_scope head, at
    /// each commit's committer time".
    public var verification: String

    public init(
        app: AppConfig, sha: String, outcome: Result<GatePass, CommitRefusal>, asBranchHead: Bool, live: String?,
        mark: String?
    ) {
        self.app = app.name
        self.sha = sha
        self.asBranchHead = asBranchHead
        self.live = live
        self.mark = mark
        ring = app.promotedFrom
        let policy = app.verification
        switch policy.method {
        case .none: verification = "none (verify is not set)"
        case .ssh:
            verification =
                "ssh against \(policy.keys ?? "-"), verify_scope \(policy.scope.rawValue), at each commit's committer time"
        case .gpg: verification = "gpg against \(policy.keys ?? "-"), verify_scope \(policy.scope.rawValue)"
        }
        switch outcome {
        case .success(let pass):
            allowed = true
            signed = pass.signed
        case .failure(let refusal):
            allowed = false
            signed = []
            reason = refusal.reason.rawValue
            detail = refusal.detail
            fix = refusal.fix
            failed = refusal.sha == sha ? nil : refusal.sha
        }
    }

    /// For people, one fact a line: the verdict first.
    public var text: String {
        let short = { (sha: String?) in sha.map { String($0.prefix(12)) } ?? "none" }
        var lines: [String] = []
        if allowed {
            lines.append("\(app) at \(short(sha)): allowed (a deploy would pass the commit gate)")
        } else {
            let which = failed.map { " at \(short($0)), in the commits up to it" } ?? ""
            lines.append("\(app) at \(short(sha)): refused (\(reason ?? "?"))\(which): \(detail ?? "")")
            if let fix { lines.append("  to do: \(fix)") }
        }
        for entry in signed {
            lines.append("  signed: \(short(entry.commit)) by \(entry.signer ?? "a key of the app")")
        }
        lines.append("  verification: \(verification)")
        let against =
            asBranchHead
            ? "as the branch head (rewind against the live release \(short(live)) and the mark \(short(mark))\(ringNote))"
            : "as a pin (signatures only; a pin may go back)"
        lines.append("  checked: \(against)")
        lines.append("  nothing was changed: no quarantine, log entry or mark")
        return lines.joined(separator: "\n")
    }

    private var ringNote: String { ring.map { ", and that \($0) holds it" } ?? "" }
}
