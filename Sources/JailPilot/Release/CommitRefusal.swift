/// Why a commit is not deployed: it is not signed as the app's `verify` asks, or the branch
/// moved backwards. The commit is quarantined until the branch moves or the keys change.
public struct CommitRefusal: Error, Sendable, CustomStringConvertible, Equatable {
    /// The reasons `release.refused` names.
    public enum Reason: String, Sendable, CaseIterable {
        case unsigned
        case unknownKey = "unknown key"
        case badSignature = "bad signature"
        case keyOfAnotherApp = "key not allowed for this app"
        case rewind
        case tooManyCommits = "too many commits"
        /// The head is not on the app's `promoted_from` ring.
        case notPromoted = "not promoted"
    }

    public var app: String
    /// The commit refused (in strict mode, the one that failed; `deploying` is the one asked for).
    public var sha: String
    public var deploying: String
    public var reason: Reason
    /// What the check saw (the tool's own words, or the commits of a rewind).
    public var detail: String

    public init(app: String, sha: String, deploying: String? = nil, reason: Reason, detail: String) {
        self.app = app
        self.sha = sha
        self.deploying = deploying ?? sha
        self.reason = reason
        self.detail = detail
    }

    /// What to do about it.
    public var fix: String {
        switch reason {
        case .unsigned, .badSignature:
            return "push a commit signed by a key in the app's allowed_signers (or keyring)"
        case .unknownKey:
            return "add the signer's key to the app's allowed_signers (or keyring) if it is trusted"
        case .keyOfAnotherApp:
            return "the key may sign another app's commits, not this one's; add it to this app's keys if it should"
        case .rewind:
            return "pin the older commit (pin = \"\(deploying.prefix(12))\") or set allow_rewind = true for the app"
        case .tooManyCommits:
            return "deploy an intermediate commit first (jailpilot deploy --sha), or use verify_scope = \"head\""
        case .notPromoted:
            return "let it pass the ring before (jailpilot promote), or reset the branch to a commit of that ring"
        }
    }

    public var description: String {
        let which = sha == deploying ? "" : " (in the commits up to \(deploying.prefix(12)))"
        return "\(app) at \(sha.prefix(12))\(which) refused (\(reason.rawValue)): \(detail); \(fix); what is live is untouched"
    }
}
