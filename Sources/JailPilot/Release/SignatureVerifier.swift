import FoundationEssentials

/// Verifies one commit's signature with the system's own tools: `ssh-keygen -Y find-principals`
/// then `-Y verify -n git` against the app's allowed_signers (OpenSSH's ssh-keygen(1), in
/// FreeBSD's base and Debian's openssh-client), or `gpgv` against its keyring.
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

    /// Throws `CommitRefusal` unless `commit` carries a good signature by a key of `app`'s.
    func verify(_ app: AppConfig, commit: String, mirror: Mirror) async throws {
        let policy = app.verification
        guard let keys = policy.keys, policy.method != .none else { return }
        func refuse(_ reason: CommitRefusal.Reason, _ detail: String) -> CommitRefusal {
            CommitRefusal(app: app.name, sha: commit, reason: reason, detail: detail)
        }
        guard let signature = try await mirror.signature(of: commit) else {
            throw refuse(.unsigned, "the commit carries no signature")
        }
        guard signature.kind == policy.method else {
            let kind = signature.kind.map { $0 == .ssh ? "an SSH" : "an OpenPGP" } ?? "an unrecognised"
            throw refuse(
                .unknownKey, "\(kind) signature; this app verifies \(policy.method == .ssh ? "SSH" : "OpenPGP") signatures")
        }
        let dir = "\(runtime.layout.staging)/verify-\(commit.prefix(12))-\(UInt32.random(in: 0...UInt32.max))"
        try FileIO.makeDirectories(dir, mode: 0o700)
        defer { try? FileIO.removeTree(dir) }
        let sig = "\(dir)/signature"
        let payload = "\(dir)/payload"
        try signature.signature.withUnsafeBytes { try FileIO.create(sig, bytes: $0, mode: 0o600) }
        try signature.payload.withUnsafeBytes { try FileIO.create(payload, bytes: $0, mode: 0o600) }
        let check = Check(runner: runtime.runner, dir: dir, sig: sig, payload: payload)
        switch try await check.run(policy.method, keys: keys) {
        case .good:
            return
        case .bad(let detail):
            throw refuse(.badSignature, detail)
        case .unknown(let detail):
            // A key another app trusts is named as such: a signer of one app may not deploy another.
            for other in runtime.config.apps where other.name != app.name && other.verification.method == policy.method {
                if let otherKeys = other.verification.keys, otherKeys != keys,
                    case .good = try await check.run(policy.method, keys: otherKeys)
                {
                    throw refuse(.keyOfAnotherApp, "signed by a key allowed for \(other.name)")
                }
            }
            throw refuse(.unknownKey, detail)
        }
    }

    /// One verification of the files in `dir` against one key file.
    struct Check: Sendable {
        enum Verdict: Sendable { case good, bad(String), unknown(String) }
        let runner: any ProcessRunning
        let dir: String
        let sig: String
        let payload: String

        func run(_ method: CommitVerification.Method, keys: String) async throws -> Verdict {
            switch method {
            case .none: return .good
            case .ssh: return try await ssh(keys)
            case .gpg: return try await gpg(keys)
            }
        }

        var environment: [String: String] { ["PATH": SignatureVerifier.path, "HOME": dir] }

        /// find-principals matches the signature's key against the file (it does not check the
        /// signature); verify then checks it as that principal in the "git" namespace.
        func ssh(_ signers: String) async throws -> Verdict {
            let find = try await runner.run(
                Command("ssh-keygen", ["-Y", "find-principals", "-s", sig, "-f", signers], environment: environment),
                timeout: .seconds(30))
            guard find.succeeded, let principal = find.stdoutText.split(separator: "\n").first.map(String.init),
                !principal.isEmpty
            else {
                return .unknown("no principal of \(signers) has the signing key (\(Self.firstLine(find)))")
            }
            let verify = try await runner.run(
                Command(
                    "ssh-keygen", ["-Y", "verify", "-f", signers, "-I", principal, "-n", "git", "-s", sig],
                    environment: environment, input: payload),
                timeout: .seconds(30))
            return verify.succeeded ? .good : .bad("ssh-keygen -Y verify as \(principal): \(Self.firstLine(verify))")
        }

        /// gpgv's machine-readable status lines (doc/DETAILS in GnuPG): VALIDSIG for a good
        /// signature, BADSIG for a bad one, ERRSIG/NO_PUBKEY when the key is not in the keyring.
        func gpg(_ keyring: String) async throws -> Verdict {
            let result = try await runner.run(
                Command(
                    SignatureVerifier.gpgv ?? "gpgv", ["--homedir", dir, "--status-fd", "1", "--keyring", keyring, sig, payload],
                    environment: environment),
                timeout: .seconds(30))
            let status = result.stdoutText.split(separator: "\n").filter { $0.hasPrefix("[GNUPG:] ") }
            func has(_ keyword: String) -> Bool { status.contains { $0.hasPrefix("[GNUPG:] \(keyword) ") } }
            if has("BADSIG") { return .bad("gpgv: BAD signature") }
            // An expired or revoked key, or an expired signature, still gets VALIDSIG (and gpgv's
            // exit 0 for some of them): only GOODSIG with VALIDSIG is a good signature.
            for (keyword, what) in [
                ("REVKEYSIG", "the key was revoked"), ("EXPKEYSIG", "the key has expired"),
                ("EXPSIG", "the signature has expired"),
            ]
            where has(keyword) {
                return .bad("gpgv: \(what)")
            }
            if result.succeeded, has("GOODSIG"), has("VALIDSIG") { return .good }
            if let missing = status.first(where: { $0.hasPrefix("[GNUPG:] NO_PUBKEY ") || $0.hasPrefix("[GNUPG:] ERRSIG ") }) {
                return .unknown("gpgv: no key in \(keyring) (\(missing.dropFirst("[GNUPG:] ".count)))")
            }
            return .bad("gpgv: \(Self.firstLine(result))")
        }

        static func firstLine(_ result: ProcessResult) -> String {
            let text = (result.stderrText.isEmpty ? result.stdoutText : result.stderrText).trimmedWhitespace
            return text.split(separator: "\n").first.map(String.init) ?? "exit \(result.status)"
        }
    }
}
