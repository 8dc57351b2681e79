import Foundation
import JailPilot
import Testing

/// An SSH signature is verified at the commit's committer time, as git does
/// (gpg-interface.c, verify_ssh_signed_buffer: `-Overify-time=` the payload's committer date):
/// allowed_signers' `valid-after`/`valid-before` bound when a key may have signed, not when
/// the agent happens to look.
@Suite(.serialized, .enabled(if: canSign, "needs git, ssh-keygen, gpg and gpgv"))
struct SignatureTimeTests {
    typealias World = SignedCommitTests.World

    /// Alice's allowed_signers line for hello with `options` after the namespace.
    static func window(_ world: World, _ options: String) throws {
        try world.scratch.write(
            "keys/hello_signers", "alice@example.invalid namespaces=\"git\",\(options) \(world.alice.publicKey)\n")
    }

    @Test func aCommitMadeWhileTheKeyWasValidStillVerifiesOnceTheWindowHasPassed() async throws {
        let world = try await World()
        try Self.window(world, "valid-after=\"20200101\",valid-before=\"20210101\"")
        try await world.alice.commit(world.repo, SignedCommitTests.app, message: "in 2020", date: "2020-06-01T12:00:00Z")
        #expect(try await world.refusal() == nil, "signed in 2020, inside the key's window")
        try await world.alice.commit(world.repo, ["late.txt": "x"], message: "in 2022", date: "2022-06-01T12:00:00Z")
        let refusal = await #expect(throws: CommitRefusal.self) { try await world.check() }
        #expect(refusal?.reason == .unknownKey, "signed after valid-before")
        #expect(refusal?.detail.contains("2022-06-01") == true, "the refusal says which time: \(refusal?.detail ?? "")")
    }

    @Test func aCommitDatedBeforeTheKeysValidAfterIsRefused() async throws {
        let world = try await World()
        try Self.window(world, "valid-after=\"20200101\"")
        try await world.alice.commit(world.repo, SignedCommitTests.app, message: "in 2019", date: "2019-06-01T12:00:00Z")
        #expect(try await world.refusal() == .unknownKey, "dated before the key was valid")
        try await world.alice.commit(world.repo, ["b.txt": "x"], message: "in 2024", date: "2024-06-01T12:00:00Z")
        #expect(try await world.refusal() == nil)
    }

    /// The signer chooses the committer date: a window bounds honest signers only. A key that
    /// is not in allowed_signers any more is refused whatever date its commits carry.
    @Test func aKeyRemovedFromAllowedSignersIsRefusedWhateverTheDate() async throws {
        let world = try await World()
        try Self.window(world, "valid-after=\"20200101\",valid-before=\"20210101\"")
        try await world.alice.commit(world.repo, SignedCommitTests.app, message: "in 2020", date: "2020-06-01T12:00:00Z")
        #expect(try await world.refusal() == nil)
        try world.scratch.write("keys/hello_signers", "")
        try await world.alice.commit(world.repo, ["c.txt": "x"], message: "back-dated", date: "2020-07-01T12:00:00Z")
        #expect(try await world.refusal() == .unknownKey)
    }
}

extension SSHSigner {
    /// Commits `files` signed with this key, with `date` as the committer (and author) date.
    @discardableResult
    func commit(_ repo: GitFixture, _ files: [String: String], message: String, date: String) async throws -> String {
        for (name, text) in files { try repo.scratch.write("repo/\(name)", text) }
        try await repo.git(["add", "-A"])
        try await sh(
            ["git", "-c", "gpg.format=ssh", "-c", "user.signingkey=\(key)", "commit", "-q", "-S", "-m", message],
            in: repo.work, env: GitFixture.env.merging(["GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date]) { $1 })
        return try await repo.head()
    }
}
