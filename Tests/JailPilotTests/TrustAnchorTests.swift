import Foundation
import JailPilot
import Testing

/// allowed_signers and keyring decide what may run: like env_files, they must be root's alone to
/// change (owned by root, not writable by group or others). An armored keyring, which gpgv
/// cannot read, is named as such with the command that converts it. Checked when a commit is
/// verified and by `jailpilot check`.
@Suite(.serialized, .enabled(if: canSign && isRoot, "needs root, git, ssh-keygen, gpg and gpgv"))
struct TrustAnchorTests {
    typealias World = SignedCommitTests.World

    /// The error the gate throws for `world`'s head, which must not be a refusal of the commit
    /// (the commit is not at fault: it is not quarantined); nil when the gate lets it through.
    static func keysProblem(_ check: () async throws -> Void) async -> String? {
        do {
            try await check()
            return nil
        } catch let refusal as CommitRefusal {
            return "refused the commit: \(refusal)"
        } catch {
            return "\(error)"
        }
    }

    @Test func anAllowedSignersFileOthersMayWriteOrNotOwnedByRootIsNotUsed() async throws {
        let world = try await World()
        try await world.alice.commit(world.repo, SignedCommitTests.app, message: "signed")
        let signers = "\(world.scratch.path)/keys/hello_signers"
        #expect(await Self.keysProblem { try await world.check() } == nil)

        chmod(signers, 0o666)
        let writable = await Self.keysProblem { try await world.check() }
        #expect(writable?.contains("allowed_signers \(signers)") == true, "\(writable ?? "used")")
        #expect(writable?.contains("chmod go-w") == true, "\(writable ?? "used")")
        #expect(writable?.hasPrefix("refused the commit") == false, "the commit is not at fault: \(writable ?? "")")
        let doctor = await Doctor(runtime: world.runtime).checks().first { $0.name == "keys of hello" }
        #expect(doctor?.ok == false && doctor?.fix == "only root may change it: chown root \(signers) && chmod go-w \(signers)")

        chmod(signers, 0o644)
        chown(signers, 65534, 65534)
        let foreign = await Self.keysProblem { try await world.check() }
        #expect(foreign?.contains("owned by uid 65534") == true, "\(foreign ?? "used")")
        #expect(foreign?.contains("chown root") == true, "\(foreign ?? "used")")
    }

    @Test func anArmoredKeyringIsNamedWithTheCommandThatConvertsIt() async throws {
        let scratch = try Scratch("armored")
        let repo = try await GitFixture()
        let signer = try await GPGSigner.make(in: scratch.path, name: "carol")
        let armored = "\(scratch.path)/carol.asc"
        let export = try await HostProcessRunner().run(
            Command("gpg", ["--batch", "--armor", "--export", signer.fingerprint], environment: ["GNUPGHOME": signer.home]),
            timeout: .seconds(30))
        try export.stdout.write(to: URL(fileURLWithPath: armored))
        let runtime = try SignatureReadingTests.gpgRuntime(scratch, repo: repo, keyring: armored)
        try await signer.commit(repo, SignedCommitTests.app, message: "signed")
        let problem = await Self.keysProblem { _ = try await SignatureReadingTests.gpgReason(runtime) }
        #expect(problem?.contains("ASCII-armored") == true, "\(problem ?? "used")")
        #expect(problem?.contains("gpg --dearmor < \(armored) >") == true, "\(problem ?? "used")")
    }

    /// `jailpilot check` says so before the agent runs.
    @Test func checkNamesATrustFileOthersMayWrite() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLITests.binary), "build the jailpilot binary first")
        let scratch = try Scratch("check-trust")
        let signers = try scratch.write("allowed_signers", "")
        let config = try scratch.write(
            "agent.conf",
            """
            [agent]
            platform = "linux"
            state_dir = "\(scratch.path)/state"
            log_file = ""
            verify = "ssh"
            allowed_signers = "\(signers)"
            [apps.hello]
            repo = "https://forge.example/hello.git"
            hostnames = ["hello.localhost"]
            """)
        let run = { try await HostProcessRunner().run(Command(CLITests.binary, ["check", "-c", config]), timeout: .seconds(60)) }
        let fine = try await run()
        #expect(fine.status == 0, "\(fine.stdoutText)\(fine.stderrText)")
        chmod(signers, 0o664)
        let writable = try await run()
        #expect(writable.status == 1, "\(writable.stdoutText)\(writable.stderrText)")
        #expect(writable.stderrText.contains("hello: allowed_signers \(signers)"), "\(writable.stderrText)")
        #expect(writable.stderrText.contains("chmod go-w"), "\(writable.stderrText)")
    }
}
