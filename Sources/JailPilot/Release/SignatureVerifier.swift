import FoundationEssentials

/// Verifies one commit's signature as `git verify-commit` does (git 2.39, gpg-interface.c),
/// with the system's own tools: `ssh-keygen -Y find-principals` then `-Y verify -n git` against
/// the app's allowed_signers, at the commit's committer time (OpenSSH's ssh-keygen(1), in
/// FreeBSD's base and Debian's openssh-client), or `gpgv` against its keyring. The signature
/// and payload are read from the raw commit object as git reads them (SignedCommit).
struct SignatureVerifier: Sendable {
    let runtime: Runtime
    /// The PATH the tools are looked up in (FreeBSD: /usr/bin/ssh-keygen in base, gpgv from the
    /// security/gnupg package in /usr/local/bin).
    static let path = "/usr/bin:/bin:/usr/local/bin"

    /// gpgv's name: Debian's gpgv package installs `gpgv`; the security/gnupg port's pkg-plist
    /// (freebsd-ports, security/gnupg/pkg-plist) lists `bin/gpgv2`. The first found is used.
    static var gpgv: String? {
        ["gpgv", "gpgv2"].first { (try? HostProcessRunner.resolve($0, path: path)) != nil }
    }

    /// Throws `CommitRefusal` unless `commit` carries a good signature by a key of `app`'s
    /// (`VerificationKeysError` when the key file may not be used); returns who signed it, as
    /// the tool names the key ("alice@example.org (ED25519 key SHA256:…)").
    func verify(_ app: AppConfig, commit: String, mirror: Mirror) async throws -> String? {
        let policy = app.verification
        guard let keys = policy.keys, policy.method != .none else { return nil }
        func refuse(_ reason: CommitRefusal.Reason, _ detail: String) -> CommitRefusal {
            CommitRefusal(app: app.name, sha: commit, reason: reason, detail: detail)
        }
        try VerificationKeys.require(app)
        let object = try await mirror.signedCommit(commit)
        if let offset = object.nulInHeader {
            throw refuse(
                .badSignature,
                "the commit object has a NUL byte in its header (offset \(offset)), which git fsck refuses (nulInHeader)")
        }
        guard object.isSigned else { throw refuse(.unsigned, "the commit carries no signature") }
        guard object.kind == policy.method else {
            let kind = object.kind.map { $0 == .ssh ? "an SSH" : "an OpenPGP" } ?? "an unrecognised"
            throw refuse(
                .unknownKey, "\(kind) signature; this app verifies \(policy.method == .ssh ? "SSH" : "OpenPGP") signatures")
        }
        // git verifies an SSH signature at the committer time (none: now), and refuses a commit
        // without a committer it can read (gpg-interface.c parse_payload_metadata).
        var time: SignatureTime?
        switch object.committerTime {
        case .missing:
            throw refuse(.badSignature, "the commit has no committer line with a name and <email>, which git refuses to verify")
        case .undated:
            time = nil
        case .at(let seconds):
            guard let at = SignatureTime(seconds: seconds) else {
                throw refuse(.badSignature, "the committer date (\(seconds)) is not a time ssh-keygen can verify at")
            }
            time = at
        }
        let dir = "\(runtime.layout.staging)/verify-\(commit.prefix(12))-\(UInt32.random(in: 0...UInt32.max))"
        try FileIO.makeDirectories(dir, mode: 0o700)
        defer { try? FileIO.removeTree(dir) }
        let sig = "\(dir)/signature"
        let payload = "\(dir)/payload"
        try object.signature.withUnsafeBytes { try FileIO.create(sig, bytes: $0, mode: 0o600) }
        try object.payload.withUnsafeBytes { try FileIO.create(payload, bytes: $0, mode: 0o600) }
        let check = SignatureCheck(runner: runtime.runner, dir: dir, sig: sig, payload: payload, time: time)
        switch try await check.run(policy.method, keys: keys) {
        case .good(let signer):
            return signer
        case .bad(let detail):
            throw refuse(.badSignature, detail)
        case .unknown(let detail):
            // A key another app trusts is named as such: a signer of one app may not deploy another.
            for other in runtime.config.apps where other.name != app.name && other.verification.method == policy.method {
                if let otherKeys = other.verification.keys, otherKeys != keys, VerificationKeys.problem(other) == nil,
                    case .good = try await check.run(policy.method, keys: otherKeys)
                {
                    throw refuse(.keyOfAnotherApp, "signed by a key allowed for \(other.name)")
                }
            }
            throw refuse(.unknownKey, detail)
        }
    }
}
