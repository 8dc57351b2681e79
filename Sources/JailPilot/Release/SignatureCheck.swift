import FoundationEssentials

/// One verification of a signature and payload (files in `dir`) against one key file, as git's
/// gpg-interface.c (2.39) runs the tools and reads what they say.
struct SignatureCheck: Sendable {
    /// What the tool said.
    enum Verdict: Sendable {
        /// A good signature by a key of the file: who, as the tool names the key.
        case good(String)
        case bad(String)
        case unknown(String)
    }

    let runner: any ProcessRunning
    let dir: String
    let sig: String
    let payload: String
    /// The time an SSH signature is verified at (nil: now, as git does for an undated commit).
    let time: SignatureTime?

    func run(_ method: CommitVerification.Method, keys: String) async throws -> Verdict {
        switch method {
        case .none: return .good("")
        case .ssh: return try await ssh(keys)
        case .gpg: return try await gpg(keys)
        }
    }

    var environment: [String: String] { ["PATH": SignatureVerifier.path, "HOME": dir] }

    /// `ssh-keygen -Y find-principals` against `signers`, at `time` when given: the principals
    /// whose key made the signature (it does not check the signature).
    func principals(_ signers: String, at time: SignatureTime?) async throws -> (ProcessResult, [String]) {
        let find = try await runner.run(
            Command(
                "ssh-keygen", ["-Y", "find-principals", "-s", sig, "-f", signers] + (time.map { [$0.option] } ?? []),
                environment: environment),
            timeout: .seconds(30))
        return (find, find.succeeded ? Self.lines(find.stdoutText) : [])
    }

    /// As verify_ssh_signed_buffer: the principals the key has at the commit's time, then
    /// `-Y verify -n git` as each until one says "Good "git" signature for …".
    func ssh(_ signers: String) async throws -> Verdict {
        let (find, principals) = try await principals(signers, at: time)
        let when = time.map { " at the commit's committer time \($0.iso)" } ?? ""
        guard !principals.isEmpty else {
            // Said plainly when the key is in the file but not valid then (valid-after/valid-before).
            if let time, let known = try await self.principals(signers, at: nil).1.first {
                return .unknown(
                    "the key of \(known) in \(signers) was not valid at the commit's committer time \(time.iso) (its valid-after/valid-before)"
                )
            }
            return .unknown("no principal of \(signers) has the signing key\(when) (\(Self.firstLine(find)))")
        }
        var refusal = ""
        for principal in principals {
            let verify = try await runner.run(
                Command(
                    "ssh-keygen",
                    ["-Y", "verify", "-n", "git", "-f", signers, "-I", principal, "-s", sig] + (time.map { [$0.option] } ?? []),
                    environment: environment, input: payload),
                timeout: .seconds(30))
            let good = "Good \"git\" signature for "
            let said = Self.lines(verify.stdoutText).first ?? ""
            if verify.succeeded, said.hasPrefix(good) {
                // "Good "git" signature for P with ED25519 key SHA256:…": the key after the last " with ".
                var key: Substring?
                var rest = said.dropFirst(good.count)
                while let with = rest.firstRange(of: " with ") {
                    key = rest[with.upperBound...]
                    rest = rest[with.upperBound...]
                }
                return .good(key.map { "\(principal) (\($0))" } ?? principal)
            }
            refusal = "ssh-keygen -Y verify as \(principal)\(when): \(Self.firstLine(verify))"
        }
        return .bad(refusal)
    }

    /// gpgv's machine-readable status lines (doc/DETAILS in GnuPG), read as git's
    /// parse_gpg_output reads gpg's: GOODSIG, BADSIG, ERRSIG, EXPSIG, EXPKEYSIG and REVKEYSIG
    /// come once per signature, and more than one of them is more than one signature, which git
    /// refuses altogether ("something is likely fishy"); only GOODSIG is good.
    func gpg(_ keyring: String) async throws -> Verdict {
        let result = try await runner.run(
            Command(
                SignatureVerifier.gpgv ?? "gpgv", ["--homedir", dir, "--status-fd", "1", "--keyring", keyring, sig, payload],
                environment: environment),
            timeout: .seconds(30))
        let status = Self.lines(result.stdoutText).filter { $0.hasPrefix("[GNUPG:] ") }.map { $0.dropFirst(9) }
        func first(_ keyword: String) -> Substring? { status.first { $0.hasPrefix("\(keyword) ") } }
        let exclusive = status.filter { line in
            ["GOODSIG", "BADSIG", "ERRSIG", "EXPSIG", "EXPKEYSIG", "REVKEYSIG"].contains { line.hasPrefix("\($0) ") }
        }
        if exclusive.count > 1 {
            return .bad(
                "gpgv: \(exclusive.count) signatures in one block (\(exclusive.map { $0.prefix { $0 != " " } }.joined(separator: ", "))); git refuses more than one"
            )
        }
        if first("BADSIG") != nil { return .bad("gpgv: BAD signature") }
        // An expired or revoked key, or an expired signature, still gets VALIDSIG (and gpgv's
        // exit 0 for some of them): only GOODSIG with VALIDSIG is a good signature.
        for (keyword, what) in [
            ("REVKEYSIG", "the key was revoked"), ("EXPKEYSIG", "the key has expired"), ("EXPSIG", "the signature has expired"),
        ]
        where first(keyword) != nil {
            return .bad("gpgv: \(what)")
        }
        if result.succeeded, let good = first("GOODSIG"), let valid = first("VALIDSIG") {
            // "GOODSIG <keyid> <user id>", "VALIDSIG <fingerprint> …".
            let user = good.split(separator: " ", maxSplits: 2).dropFirst(2).first.map(String.init) ?? ""
            let fingerprint = valid.split(separator: " ").dropFirst().first.map(String.init) ?? ""
            return .good("\(user) (key \(fingerprint))")
        }
        if let missing = first("NO_PUBKEY") ?? first("ERRSIG") {
            return .unknown("gpgv: no key in \(keyring) (\(missing))")
        }
        return .bad("gpgv: \(Self.firstLine(result))")
    }

    /// The lines of a tool's output: ssh-keygen ends its messages with "\r\n" (OpenSSH's log.c),
    /// which Swift reads as one Character, not a "\n".
    static func lines(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }).map(String.init).filter { !$0.isEmpty }
    }

    /// The first line of what the tool said (stderr, else stdout), for a refusal's detail.
    static func firstLine(_ result: ProcessResult) -> String {
        lines(result.stderrText.trimmedWhitespace.isEmpty ? result.stdoutText : result.stderrText).first?.trimmedWhitespace
            ?? "exit \(result.status)"
    }
}
