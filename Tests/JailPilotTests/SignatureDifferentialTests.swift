import Foundation
import JailPilot
import Testing

/// `jailpilot verify` against `git verify-commit` (git 2.39 here), case by case: crafted commit
/// objects (the header cases of issue 31's finding 6, the signature times of 7, the OpenPGP
/// blocks of 10), keys made by the test, and each verdict compared with git's, given the same
/// allowed_signers (`gpg.ssh.allowedSignersFile`) or the same keys (a GNUPGHOME holding the
/// keyring's keys). jailpilot's side is the library function the command prints
/// (Deployer.verdict: the agent's gate, dry).
@Suite(.serialized, .enabled(if: canSign, "needs git, ssh-keygen, gpg and gpgv"))
struct SignatureDifferentialTests {
    typealias World = SignedCommitTests.World

    /// One crafted case: what it is, the commit object, and alice's allowed_signers options
    /// (after `namespaces="git"`), if any.
    struct Case {
        let name: String
        let object: [UInt8]
        var options = ""
    }

    /// jailpilot's verdict on the branch head: allowed, and what it said.
    static func jailpilot(_ runtime: Runtime, _ app: AppConfig) async throws -> (Bool, String) {
        do {
            let head = try await SourcePipeline(runtime: runtime).fetch(app, sha: nil)
            let verdict = try await runtime.deployer().verdict(app, commit: head, asBranchHead: true)
            return (verdict.allowed, verdict.text)
        } catch {
            // What `jailpilot verify` exits 1 with too (it prints the error).
            return (false, "error: \(error)")
        }
    }

    /// Seconds since the epoch of a UTC day at noon (`2020-06-01` → 1591012800).
    static func noon(_ year: Int, _ month: Int, _ day: Int) -> Int {
        var parts = DateComponents()
        (parts.year, parts.month, parts.day, parts.hour) = (year, month, day, 12)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return Int(calendar.date(from: parts)!.timeIntervalSince1970)
    }

    @Test func sshCasesAgreeWithGitVerifyCommit() async throws {
        let world = try await World()
        try await world.repo.commit(SignedCommitTests.app, message: "the tree")
        let forge = try CommitForge(world.repo, dir: "\(world.scratch.path)/forge")
        let alice = world.alice
        let headers = try await forge.headers()
        let body = Array("\nrelease\n".utf8)
        let nl = [UInt8(ascii: "\n")]
        let good = try await forge.sign(headers + body, with: alice)
        let sig = CommitForge.header("gpgsig", good)
        let sha256 = CommitForge.header("gpgsig-sha256", good)
        func signed(_ payloadHeaders: [UInt8], _ body: [UInt8]) async throws -> [UInt8] {
            payloadHeaders + CommitForge.header("gpgsig", try await forge.sign(payloadHeaders + body, with: alice)) + body
        }
        func dated(_ time: Int) async throws -> [UInt8] { try await signed(try await forge.headers(time: time), body) }
        let noCommitter = Array(headers.split(separator: nl[0]).prefix(2).joined(separator: nl)) + nl
        let undated = noCommitter + Array("committer test <test@example.invalid>\n".utf8)
        let window = "valid-after=\"20200101\",valid-before=\"20210101\""
        let cases = [
            Case(name: "as git commit -S writes it", object: headers + sig + body),
            // 6: the header as git reads it.
            Case(name: "a NUL and bytes after a signed commit", object: headers + sig + body + [0] + Array("evil\n".utf8)),
            Case(
                name: "a gpgsig line in the message",
                object: headers + nl + CommitForge.header("gpgsig", try await forge.sign(headers + nl, with: alice))),
            Case(
                name: "gpgsigfoo bar, signed as foo bar",
                object: headers + Array("gpgsigfoo bar\n".utf8)
                    + CommitForge.header(
                        "gpgsig", try await forge.sign(headers + Array("foo bar\n".utf8) + body, with: alice)) + body),
            Case(name: "gpgsigfoo bar added to a signed commit", object: headers + Array("gpgsigfoo bar\n".utf8) + sig + body),
            Case(name: "gpgsig then gpgsig-sha256", object: headers + sig + sha256 + body),
            Case(name: "gpgsig-sha256 then gpgsig", object: headers + sha256 + sig + body),
            Case(name: "gpgsig-sha256 alone", object: headers + sha256 + body),
            Case(name: "two gpgsig headers", object: headers + sig + sig + body),
            Case(name: "two gpgsig headers around another", object: headers + sig + Array("x-mid y\n".utf8) + sig + body),
            Case(name: "no message, no empty line", object: try await signed(headers, [])),
            Case(name: "a NUL in the message, signed", object: try await signed(headers, Array("\nmsg".utf8) + [0] + nl)),
            Case(
                name: "CRLF in the signature header",
                object: headers
                    + Array(
                        String(decoding: sig, as: UTF8.self)
                            .replacingOccurrences(of: "\n", with: "\r\n").utf8) + body),
            Case(name: "no committer", object: try await signed(noCommitter, body)),
            Case(name: "a committer without a date", object: try await signed(undated, body)),
            Case(name: "a committer dated 0", object: try await dated(0)),
            Case(name: "the message changed after signing", object: headers + sig + Array("\nforged\n".utf8)),
            // 7: at the committer time.
            Case(name: "signed in 2020, key valid in 2020", object: try await dated(Self.noon(2020, 6, 1)), options: window),
            Case(name: "signed in 2022, key valid in 2020", object: try await dated(Self.noon(2022, 6, 1)), options: window),
            Case(
                name: "signed in 2019, key valid after 2020", object: try await dated(Self.noon(2019, 6, 1)),
                options: "valid-after=\"20200101\""),
            Case(
                name: "signed in 2024, key valid after 2020", object: try await dated(Self.noon(2024, 6, 1)),
                options: "valid-after=\"20200101\""),
            Case(name: "undated, key valid in 2020 only", object: try await signed(undated, body), options: window),
            Case(
                name: "signed a second before valid-after (UTC)", object: try await dated(Self.noon(2020, 1, 1) - 43201),
                options: "valid-after=\"20200101000000Z\""),
            Case(
                name: "signed at valid-after (UTC)", object: try await dated(Self.noon(2020, 1, 1) - 43200),
                options: "valid-after=\"20200101000000Z\""),
        ]
        let signers = "\(world.scratch.path)/keys/hello_signers"
        var verdicts: [Bool] = []
        for c in cases {
            try world.scratch.write(
                "keys/hello_signers",
                "alice@example.invalid namespaces=\"git\"\(c.options.isEmpty ? "" : ",\(c.options)") \(alice.publicKey)\n")
            let sha = try await forge.commit(c.object)
            let git = try await forge.gitAccepts(sha, allowedSigners: signers)
            let (ours, said) = try await Self.jailpilot(world.runtime, world.app)
            #expect(ours == git, "\(c.name): git verify-commit \(git ? "accepts" : "refuses"), jailpilot verify says: \(said)")
            verdicts.append(git)
        }
        #expect(verdicts.contains(true) && verdicts.contains(false), "both kinds of case: \(verdicts)")
    }

    /// The one case where jailpilot follows git fsck rather than `git verify-commit`: a NUL in
    /// the header (fsck.c verify_headers, nulInHeader, FATAL; verify-commit alone checks the
    /// signature over it).
    @Test func aNULInTheHeaderIsRefusedAsGitFsckRefusesIt() async throws {
        let world = try await World()
        try await world.repo.commit(SignedCommitTests.app, message: "the tree")
        let forge = try CommitForge(world.repo, dir: "\(world.scratch.path)/forge")
        let header = try await forge.headers() + Array("x-extra a".utf8) + [0] + Array("b\n".utf8)
        let body = Array("\nrelease\n".utf8)
        let sha = try await forge.commit(
            header + CommitForge.header("gpgsig", try await forge.sign(header + body, with: world.alice)) + body)
        #expect(try await forge.gitAccepts(sha, allowedSigners: "\(world.scratch.path)/keys/hello_signers"))
        let fsck = try await forge.fsckProblems(sha)
        #expect(fsck.contains { $0.contains("nulInHeader") }, "\(fsck)")
        let (ours, said) = try await Self.jailpilot(world.runtime, world.app)
        #expect(!ours && said.contains("nulInHeader"), "\(said)")
    }

    @Test func openPGPCasesAgreeWithGitVerifyCommit() async throws {
        let scratch = try Scratch("gpg-diff")
        let repo = try await GitFixture()
        try await repo.commit(SignedCommitTests.app, message: "the tree")
        let keys = try await GPGPair.make(in: scratch.path, names: ["carol", "dave", "erin"])
        let (carol, dave, erin) = (keys.fingerprints[0], keys.fingerprints[1], keys.fingerprints[2])
        // The app trusts carol and dave; git is given a GNUPGHOME with just those two keys.
        let trusted = try await keys.subset([carol, dave], in: scratch.path, name: "trusted")
        let runtime = try SignatureReadingTests.gpgRuntime(scratch, repo: repo, keyring: trusted.keyring)
        let app = try #require(runtime.config.app("hello"))
        let forge = try CommitForge(repo, dir: "\(scratch.path)/forge")
        let headers = try await forge.headers()
        let body = Array("\nrelease\n".utf8)
        func sig(_ by: [String]) async throws -> [UInt8] {
            CommitForge.header("gpgsig", try await forge.sign(headers + body, gpgHome: keys.home, keys: by))
        }
        let cases = [
            Case(name: "signed by carol", object: headers + (try await sig([carol])) + body),
            Case(name: "one block signed by carol and dave", object: headers + (try await sig([carol, dave])) + body),
            Case(name: "one block signed by carol and erin (unknown)", object: headers + (try await sig([carol, erin])) + body),
            Case(name: "signed by erin (unknown)", object: headers + (try await sig([erin])) + body),
            Case(
                name: "two gpgsig headers, carol's each",
                object: headers + (try await sig([carol])) + (try await sig([carol])) + body),
            Case(
                name: "gpgsig then gpgsig-sha256",
                object: headers + (try await sig([carol]))
                    + CommitForge.header("gpgsig-sha256", try await forge.sign(headers + body, gpgHome: keys.home, keys: [dave]))
                    + body),
            Case(
                name: "the message changed after signing", object: headers + (try await sig([carol])) + Array("\nforged\n".utf8)),
        ]
        var verdicts: [Bool] = []
        for c in cases {
            let sha = try await forge.commit(c.object)
            let git = try await forge.gitAccepts(sha, gnupgHome: trusted.home)
            let (ours, said) = try await Self.jailpilot(runtime, app)
            #expect(ours == git, "\(c.name): git verify-commit \(git ? "accepts" : "refuses"), jailpilot verify says: \(said)")
            verdicts.append(git)
        }
        #expect(verdicts.contains(true) && verdicts.contains(false), "both kinds of case: \(verdicts)")
    }
}
