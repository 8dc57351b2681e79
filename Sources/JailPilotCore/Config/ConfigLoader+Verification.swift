/// `verify`, `allowed_signers`, `keyring`, `verify_scope` (in `[agent]` as defaults and per
/// app) and `allow_rewind` (per app).
extension ConfigLoader {
    static let verificationKeys = ["verify", "allowed_signers", "keyring", "verify_scope"]

    /// Reads the verification keys of `t` over `base` (the agent's defaults for an app).
    static func readVerification(_ t: TableReader, over base: CommitVerification, app: String?) -> CommitVerification {
        var result = base
        if let text = t.string("verify", example: "\"ssh\"") {
            if let method = CommitVerification.Method(rawValue: text) {
                result.method = method
            } else {
                t.issues.add(t.key("verify"), "'\(text)' is not a verification; write \"none\", \"ssh\" or \"gpg\"")
            }
        }
        let signers = t.string("allowed_signers", example: "\"/usr/local/etc/jailpilot/allowed_signers\"")
        let keyring = t.string("keyring", example: "\"/usr/local/etc/jailpilot/trusted.gpg\"")
        for (key, value) in [("allowed_signers", signers), ("keyring", keyring)] { if let value { checkPath(t, key, value) } }
        if let text = t.string("verify_scope", example: "\"head\"") {
            if let scope = CommitVerification.Scope(rawValue: text) {
                result.scope = scope
            } else {
                t.issues.add(
                    t.key("verify_scope"),
                    "'\(text)' is not a scope; write \"head\" (the commit deployed is signed) or \"strict\" (every commit since the live release is)"
                )
            }
        }
        switch result.method {
        case .none:
            result.keys = nil
        case .ssh:
            if keyring != nil {
                t.issues.add(t.key("keyring"), "is for verify = \"gpg\"; SSH signatures are checked against allowed_signers")
            }
            result.keys = signers ?? (base.method == .ssh ? base.keys : nil)
        case .gpg:
            if signers != nil {
                t.issues.add(t.key("allowed_signers"), "is for verify = \"ssh\"; OpenPGP signatures are checked against keyring")
            }
            result.keys = keyring ?? (base.method == .gpg ? base.keys : nil)
        }
        // In [agent] the keys may come with each app; an app must end up with some.
        if result.method != .none, result.keys == nil, app != nil {
            let key = result.method == .ssh ? "allowed_signers" : "keyring"
            let example =
                result.method == .ssh
                ? "\"/usr/local/etc/jailpilot/allowed_signers\"" : "\"/usr/local/etc/jailpilot/trusted.gpg\""
            t.issues.add(t.key("verify"), "= \"\(result.method.rawValue)\" needs \(key) = \(example) (here or in [agent])")
        }
        if app != nil { result.allowRewind = t.bool("allow_rewind") ?? false }
        return result
    }
}
