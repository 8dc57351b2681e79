import Foundation
import JailPilot
import Testing

/// A commit's signature read as git reads it (commit.c, parse_buffer_signed_by_header): the
/// `gpgsig` header lines and their continuations are the signature, every other `gpgsig*`
/// header line is left out, and the rest of the object, whatever it holds, is what was signed.
/// Crafted objects, real keys, the real tools; SignatureDifferentialTests puts each case to
/// `git verify-commit` too.
@Suite(.serialized, .enabled(if: canSign, "needs git, ssh-keygen, gpg and gpgv"))
struct SignatureReadingTests {
    typealias World = SignedCommitTests.World

    /// A world whose repository has a tree, a forge on it, and a commit alice signed.
    struct Crafted {
        let world: World
        let forge: CommitForge
        let headers: [UInt8]
        let body = Array("\nrelease\n".utf8)
        let signature: [UInt8]

        init() async throws {
            world = try await World()
            try await world.repo.commit(SignedCommitTests.app, message: "the tree")
            forge = try CommitForge(world.repo, dir: "\(world.scratch.path)/forge")
            headers = try await forge.headers()
            signature = try await forge.sign(headers + body, with: world.alice)
        }

        /// `headers`, the signature header and the body, as git writes a signed commit.
        var signed: [UInt8] { headers + CommitForge.header("gpgsig", signature) + body }

        /// The gate's reason for refusing `object` made the branch head; nil when it passes.
        func reason(_ object: [UInt8]) async throws -> CommitRefusal.Reason? {
            try await forge.commit(object)
            return try await world.refusal()
        }
    }

    @Test func onlyTheGpgsigHeaderIsTheSignatureAndEveryOtherByteIsSigned() async throws {
        let c = try await Crafted()
        let sig = CommitForge.header("gpgsig", c.signature)
        let sha256 = CommitForge.header("gpgsig-sha256", c.signature)
        let newline = [UInt8(ascii: "\n")]
        let inBody = try await c.forge.sign(c.headers + newline, with: c.world.alice)
        let renamedBy = try await c.forge.sign(c.headers + Array("foo bar\n".utf8) + c.body, with: c.world.alice)
        let cases: [(String, [UInt8], CommitRefusal.Reason?)] = [
            ("as git commit -S writes it", c.signed, nil),
            // What libgit2's git_commit_extract_signature let through and git refuses.
            (
                "a NUL and more bytes after a signed commit: git verifies the whole object",
                c.signed + [0] + Array("evil\n".utf8), .badSignature
            ),
            (
                "a gpgsig line in the message is not a signature",
                c.headers + newline + CommitForge.header("gpgsig", inBody), .unsigned
            ),
            (
                "a header gpgsigfoo is not the header foo: git leaves it out of what was signed",
                c.headers + Array("gpgsigfoo bar\n".utf8) + CommitForge.header("gpgsig", renamedBy) + c.body, .badSignature
            ),
            // What libgit2 refused and git accepts.
            (
                "gpgsig-sha256 (a dual-hash commit's other signature) is not part of the SHA-1 payload",
                c.headers + sig + sha256 + c.body, nil
            ),
            ("gpgsig-sha256 first", c.headers + sha256 + sig + c.body, nil),
            (
                "any other gpgsig* header is left out of the payload, as git does",
                c.headers + Array("gpgsigfoo bar\n".utf8) + sig + c.body, nil
            ),
            ("two gpgsig headers are one signature of both blocks, as git reads them", c.headers + sig + sig + c.body, nil),
            ("a SHA-1 repository's signature is gpgsig", c.headers + sha256 + c.body, .unsigned),
        ]
        for (what, object, expected) in cases {
            let got = try await c.reason(object)
            #expect(got == expected, "\(what): got \(got.map(\.rawValue) ?? "accepted")")
        }
    }

    @Test func aNULInTheHeaderIsRefusedAsGitFsckRefusesItAndOneInTheMessageIsSigned() async throws {
        let c = try await Crafted()
        let header = c.headers + Array("x-extra a".utf8) + [0] + Array("b\n".utf8)
        let signed = try await c.forge.sign(header + c.body, with: c.world.alice)
        let inHeader = try await c.reason(header + CommitForge.header("gpgsig", signed) + c.body)
        #expect(inHeader == .badSignature, "fsck: nulInHeader is fatal; got \(inHeader.map(\.rawValue) ?? "accepted")")
        let body = Array("\nrelease".utf8) + [0] + Array("hidden\n".utf8)
        let bodySigned = try await c.forge.sign(c.headers + body, with: c.world.alice)
        let inBody = try await c.reason(c.headers + CommitForge.header("gpgsig", bodySigned) + body)
        #expect(
            inBody == nil,
            "git verify-commit checks the signature over the NUL; fsck only warns (nulInCommit); got \(inBody.map(\.rawValue) ?? "accepted")"
        )
    }

    /// The split itself, byte for byte, and the committer time git verifies at.
    @Test func theObjectIsSplitAsParseSignedCommitSplitsIt() {
        let object = SignedCommit(
            object: Array(
                """
                tree t
                committer c <c@x> 1700000000 +0100
                gpgsig -----BEGIN SSH SIGNATURE-----
                 abc
                 -----END SSH SIGNATURE-----
                gpgsig-sha256 x
                 y
                x-after z

                msg
                gpgsig in the message

                """.utf8))
        #expect(object.isSigned && object.kind == .ssh && object.nulInHeader == nil)
        #expect(
            String(decoding: object.signature, as: UTF8.self)
                == "-----BEGIN SSH SIGNATURE-----\nabc\n-----END SSH SIGNATURE-----\n")
        #expect(
            String(decoding: object.payload, as: UTF8.self)
                == "tree t\ncommitter c <c@x> 1700000000 +0100\nx-after z\n\nmsg\ngpgsig in the message\n")
        #expect(object.committerTime == .at(1_700_000_000))
        func time(_ committer: String) -> SignedCommit.CommitterTime {
            SignedCommit(object: Array("tree t\n\(committer)\n\nmsg\n".utf8)).committerTime
        }
        #expect(time("committer c <c@x>") == .undated, "no date: git verifies at the current time")
        #expect(time("committer c <c@x> 0 +0000") == .undated, "a date of 0 is none")
        #expect(time("committer c <c@x> 12 x") == .undated, "no zone, no date (split_ident_line)")
        #expect(time("committer c") == .missing, "no <email>: git refuses")
        #expect(time("committer ") == .missing, "the first committer line counts, even empty")
        #expect(time("author a <a@x> 5 +0000") == .missing)
        #expect(time("committer c <c@x> 99999999999999999999999 +0000") == .at(.max), "strtoumax saturates")
        let nul = SignedCommit(object: Array("tree t\nx a".utf8) + [0] + Array("\n\nmsg".utf8) + [0])
        #expect(nul.nulInHeader == 10 && !nul.isSigned)
        #expect(SignedCommit(object: Array("tree t\n\nmsg".utf8) + [0]).nulInHeader == nil, "a NUL in the message is not fsck's")
    }

    /// ssh-keygen ends its lines with \r\n: the refusal quotes its first line, not all of it.
    @Test func aRefusalQuotesTheToolsFirstLineOnly() async throws {
        let c = try await Crafted()
        try await c.forge.commit(c.headers + CommitForge.header("gpgsig", c.signature) + Array("\nforged\n".utf8))
        let refusal = await #expect(throws: CommitRefusal.self) { try await c.world.check() }
        #expect(refusal?.reason == .badSignature)
        let detail = refusal?.detail ?? ""
        #expect(!detail.contains("\r") && !detail.contains("\n"), "\(detail.debugDescription)")
        #expect(detail.hasSuffix("incorrect signature"), "\(detail.debugDescription)")
    }

    /// git refuses an OpenPGP block with more than one signature (gpg-interface.c,
    /// parse_gpg_output: "we're dealing with multiple signatures ... reject them altogether").
    @Test func anOpenPGPBlockOfTwoSignaturesIsRefusedEvenByTrustedKeys() async throws {
        let scratch = try Scratch("gpg-two")
        let repo = try await GitFixture()
        try await repo.commit(SignedCommitTests.app, message: "the tree")
        let pair = try await GPGPair.make(in: scratch.path, names: ["carol", "dave"])
        let runtime = try Self.gpgRuntime(scratch, repo: repo, keyring: pair.keyring)
        let forge = try CommitForge(repo, dir: "\(scratch.path)/forge")
        let headers = try await forge.headers()
        let body = Array("\nrelease\n".utf8)
        func reason(_ keys: [String]) async throws -> CommitRefusal.Reason? {
            let signature = try await forge.sign(headers + body, gpgHome: pair.home, keys: keys)
            try await forge.commit(headers + CommitForge.header("gpgsig", signature) + body)
            return try await Self.gpgReason(runtime)
        }
        #expect(try await reason([pair.fingerprints[0]]) == nil, "one signature by a key of the keyring")
        #expect(try await reason(pair.fingerprints) == .badSignature, "two signatures, both by keys of the keyring")
    }

    static func gpgRuntime(_ scratch: Scratch, repo: GitFixture, keyring: String) throws -> Runtime {
        let config = try ConfigLoader.parse(
            """
            [agent]
            platform = "linux"
            state_dir = "\(scratch.path)/state"
            [apps.hello]
            repo = "\(repo.fileURL)"
            hostnames = ["hello.localhost"]
            verify = "gpg"
            keyring = "\(keyring)"
            """, file: "\(scratch.path)/agent.conf")
        return try Runtime(config: config, echo: false)
    }

    static func gpgReason(_ runtime: Runtime) async throws -> CommitRefusal.Reason? {
        let app = try #require(runtime.config.app("hello"))
        let head = try await SourcePipeline(runtime: runtime).fetch(app, sha: nil)
        do {
            try await CommitGate(runtime: runtime).check(app, sha: head, live: nil, mark: nil, fromBranch: true)
            return nil
        } catch let refusal as CommitRefusal {
            return refusal.reason
        }
    }
}
