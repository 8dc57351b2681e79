/// Which commits an app deploys: `verify` (none, ssh or gpg), the keys that may sign
/// (`allowed_signers` for ssh, `keyring` for gpg), whether the commit alone or every commit since
/// the live release must be signed (`verify_scope`), and whether the branch may move backwards
/// (`allow_rewind`).
public struct CommitVerification: Sendable, Equatable {
    /// How a commit's signature is checked.
    public enum Method: String, Sendable, CaseIterable {
        /// Nothing is checked (the default).
        case none
        /// An SSH signature, checked by `ssh-keygen -Y verify -n git` against `allowed_signers`.
        case ssh
        /// An OpenPGP signature, checked by `gpgv` against `keyring`.
        case gpg
    }

    /// Which commits must be signed.
    public enum Scope: String, Sendable, CaseIterable {
        /// The commit to deploy.
        case head
        /// Every commit between the live release and the one to deploy.
        case strict
    }

    public var method: Method = .none
    /// ssh: git's allowed-signers file; gpg: the keyring `gpgv` reads. Nil with `.none`.
    public var keys: String? = nil
    public var scope: Scope = .head
    /// A branch head that is not a descendant of the live release is deployed (else refused).
    public var allowRewind = false

    public init(method: Method = .none, keys: String? = nil, scope: Scope = .head, allowRewind: Bool = false) {
        self.method = method
        self.keys = keys
        self.scope = scope
        self.allowRewind = allowRewind
    }
}
