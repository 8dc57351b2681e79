import Foundation
import JailPilot
import Testing

/// What `verify` lets through, checked with real keys (ssh-keygen, gpg), real signed commits
/// and the real tools (libgit2 to extract, ssh-keygen -Y verify and gpgv to verify); before
/// any build, so no root is needed. DeployTests-style end-to-end runs are in SignedDeployTests.
@Suite(.serialized, .enabled(if: canSign, "needs git, ssh-keygen, gpg and gpgv"))
struct SignedCommitTests {
    /// A repository, two apps on it (hello trusts `alice`, api trusts `bob`), and the gate.
    struct World {
        let scratch: Scratch
        let repo: GitFixture
        let alice: SSHSigner
        let bob: SSHSigner
        let runtime: Runtime

        init(hello: String = "", api: String = "") async throws {
            scratch = try Scratch("signed")
            repo = try await GitFixture()
            alice = try await SSHSigner.make(in: "\(scratch.path)/keys", name: "alice")
            bob = try await SSHSigner.make(in: "\(scratch.path)/keys", name: "bob")
            try scratch.write("keys/hello_signers", alice.allowedSigner("alice@example.invalid"))
            try scratch.write("keys/api_signers", bob.allowedSigner("bob@example.invalid"))
            let config = try ConfigLoader.parse(
                """
                [agent]
                platform = "linux"
                state_dir = "\(scratch.path)/state"
                verify = "ssh"
                [apps.hello]
                repo = "\(repo.fileURL)"
                hostnames = ["hello.localhost"]
                allowed_signers = "\(scratch.path)/keys/hello_signers"
                \(hello)
                [apps.api]
                repo = "\(repo.fileURL)"
                hostnames = ["api.localhost"]
                allowed_signers = "\(scratch.path)/keys/api_signers"
                \(api)
                """, file: "\(scratch.path)/agent.conf")
            runtime = try Runtime(config: config, echo: false)
        }

        var app: AppConfig { runtime.config.app("hello")! }

        /// Fetches the branch, then asks the gate about `sha` (default: the head) over `live`.
        func check(_ sha: String? = nil, live: String? = nil, fromBranch: Bool = true) async throws {
            let head = try await SourcePipeline(runtime: runtime).fetch(app, sha: sha)
            try await CommitGate(runtime: runtime).check(app, sha: head, live: live, mark: nil, fromBranch: fromBranch)
        }

        /// The reason the gate refuses `sha`, or nil when it lets it through.
        func refusal(_ sha: String? = nil, live: String? = nil, fromBranch: Bool = true) async throws -> CommitRefusal.Reason? {
            do {
                try await check(sha, live: live, fromBranch: fromBranch)
                return nil
            } catch let refusal as CommitRefusal {
                return refusal.reason
            }
        }
    }

    static let app = ["main.go": "package main\n", "go.mod": "module hello\n"]

    @Test func aCommitSignedByAnAllowedKeyPassesAndEveryOtherKindIsRefused() async throws {
        let world = try await World()
        let signed = try await world.alice.commit(world.repo, Self.app, message: "signed")
        #expect(try await world.refusal() == nil, "alice may sign hello")

        try await world.repo.commit(["a.txt": "1"], message: "unsigned")
        #expect(try await world.refusal() == .unsigned)

        let stranger = try await SSHSigner.make(in: "\(world.scratch.path)/keys", name: "mallory")
        try await stranger.commit(world.repo, ["b.txt": "2"], message: "by an unknown key")
        #expect(try await world.refusal() == .unknownKey)

        try await world.bob.commit(world.repo, ["c.txt": "3"], message: "by api's signer")
        #expect(try await world.refusal() == .keyOfAnotherApp)

        // The same signature over other content: the commit rewritten with a different message.
        let object = try await world.repo.git(["cat-file", "commit", signed])
        try world.scratch.write("forged", object.replacingOccurrences(of: "\nsigned\n", with: "\nforged\n"))
        let forged = try await world.repo.git(["hash-object", "-t", "commit", "-w", "\(world.scratch.path)/forged"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try await world.repo.git(["update-ref", "refs/heads/main", forged])
        #expect(try await world.refusal() == .badSignature)

        // The refusal says what and how to fix it, and what stays live.
        try await world.repo.git(["update-ref", "refs/heads/main", signed])
        try await world.repo.commit(["d.txt": "4"], message: "unsigned again")
        let error = await #expect(throws: CommitRefusal.self) { try await world.check() }
        #expect(
            "\(error.map { "\($0)" } ?? "")".contains(
                "refused (unsigned): the commit carries no signature; push a commit signed by"))
    }

    @Test func strictScopeRefusesAnUnsignedCommitInTheMiddleHeadScopeDoesNot() async throws {
        let world = try await World(hello: "verify_scope = \"strict\"")
        let live = try await world.alice.commit(world.repo, Self.app, message: "live")
        try await world.repo.commit(["middle.txt": "x"], message: "unsigned in the middle")
        try await world.alice.commit(world.repo, ["top.txt": "y"], message: "signed on top")
        #expect(try await world.refusal(live: live) == .unsigned, "strict: every commit since the live one")
        let error = await #expect(throws: CommitRefusal.self) { try await world.check(live: live) }
        #expect(error?.sha != error?.deploying, "it names the unsigned commit, not the head")

        let relaxed = try await World()
        let base = try await relaxed.alice.commit(relaxed.repo, Self.app, message: "live")
        try await relaxed.repo.commit(["middle.txt": "x"], message: "unsigned in the middle")
        try await relaxed.alice.commit(relaxed.repo, ["top.txt": "y"], message: "signed on top")
        #expect(try await relaxed.refusal(live: base) == nil, "head scope: only the commit deployed")
    }

    @Test func aForcePushBackToAnOlderSignedCommitIsARewindUnlessAllowed() async throws {
        let world = try await World()
        let old = try await world.alice.commit(world.repo, Self.app, message: "old")
        let live = try await world.alice.commit(world.repo, ["v.txt": "2"], message: "live")
        try await world.repo.git(["reset", "-q", "--hard", old])
        #expect(try await world.refusal(live: live) == .rewind, "replaying an old signed release")
        #expect(try await world.refusal(old, live: live, fromBranch: false) == nil, "a pin or --sha may name it on purpose")

        let allowed = try await World(hello: "allow_rewind = true")
        let first = try await allowed.alice.commit(allowed.repo, Self.app, message: "old")
        let second = try await allowed.alice.commit(allowed.repo, ["v.txt": "2"], message: "live")
        try await allowed.repo.git(["reset", "-q", "--hard", first])
        #expect(try await allowed.refusal(live: second) == nil)
    }

    @Test func gpgSignaturesAreCheckedAgainstTheKeyring() async throws {
        let scratch = try Scratch("gpg")
        let repo = try await GitFixture()
        let signer = try await GPGSigner.make(in: scratch.path, name: "carol")
        let stranger = try await GPGSigner.make(in: scratch.path, name: "dave")
        let runtime = try SignatureReadingTests.gpgRuntime(scratch, repo: repo, keyring: signer.keyring)
        func reason() async throws -> CommitRefusal.Reason? { try await SignatureReadingTests.gpgReason(runtime) }
        try await signer.commit(repo, Self.app, message: "signed")
        #expect(try await reason() == nil)
        try await stranger.commit(repo, ["x": "1"], message: "by a key not in the keyring")
        #expect(try await reason() == .unknownKey)
        try await repo.commit(["y": "2"], message: "unsigned")
        #expect(try await reason() == .unsigned)
        // Regression: gpgv reports VALIDSIG for a signature by an expired key too; only GOODSIG counts.
        let expiring = try await GPGSigner.make(in: scratch.path, name: "frank", expire: "seconds=2")
        try FileIO.replace(signer.keyring + ".both", text: "")
        let both =
            try Data(contentsOf: URL(fileURLWithPath: signer.keyring)) + Data(contentsOf: URL(fileURLWithPath: expiring.keyring))
        try both.write(to: URL(fileURLWithPath: signer.keyring))
        try await expiring.commit(repo, ["e": "0"], message: "by a key that expires")
        try await Task.sleep(for: .seconds(3))
        #expect(try await reason() == .badSignature, "an expired key's signature is not good")
        let ssh = try await SSHSigner.make(in: "\(scratch.path)/keys", name: "erin")
        try await ssh.commit(repo, ["z": "3"], message: "an SSH signature")
        #expect(try await reason() == .unknownKey, "an SSH signature is not an OpenPGP one")
    }

    @Test func aVerifyWithoutKeysIsAConfigErrorWithTheLine() throws {
        let error = #expect(throws: ConfigError.self) {
            try ConfigLoader.parse(
                """
                [agent]
                platform = "linux"
                [apps.hello]
                repo = "https://example.org/h.git"
                hostnames = ["h.example.org"]
                verify = "ssh"
                verify_scope = "everything"
                """, file: "agent.conf")
        }
        let text = "\(error.map { "\($0)" } ?? "")"
        #expect(text.contains("agent.conf:6") && text.contains("needs allowed_signers"), "\(text)")
        #expect(text.contains("'everything' is not a scope"), "\(text)")
    }
}
