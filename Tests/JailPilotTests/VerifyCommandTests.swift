import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// `jailpilot verify`: the agent's own commit gate (one function, Deployer.checkCommit, in its
/// dry mode), asked without deploying: the same verdict a deploy would meet, and nothing
/// written (no quarantine, timeline row or mark).
@Suite struct VerifyCommandTests {
    typealias W = MemoryWorld

    @Test func verifyMeetsTheGateADeployMeetsAndWritesNothing() async throws {
        let signers = "/tmp/jailpilot-verify-\(UInt64.random(in: 0...UInt64.max))"
        try FileIO.replace(signers, text: "alice namespaces=\"git\" ssh-ed25519 AAAA\n")
        defer { unlink(signers) }
        let world = try MemoryWorld(apps: [("hello", "verify = \"ssh\"\nallowed_signers = \"\(signers)\"\n")])
        defer { world.tearDown() }
        world.source.trust(["alice"], app: "hello")
        let store = world.runtime.store
        for n in 1...2 {
            world.source.push(W.sha(n), app: "hello", signedBy: "alice")
            _ = try await world.deployer.deploy(world.app(), cause: "push")
        }
        let allowed = try await world.deployer.verdict(world.app(), commit: W.sha(2), asBranchHead: true)
        #expect(allowed.allowed && allowed.reason == nil, "\(allowed.text)")
        #expect(allowed.signed.map(\.commit) == [W.sha(2)], "the signature was checked")

        // A force-push back: verify says rewind, and writes nothing.
        world.source.reset("hello", to: W.sha(1))
        let mark = try store.mark(app: "hello")
        let timeline = try store.timeline(app: "hello", since: nil).count
        let verdict = try await world.deployer.verdict(world.app(), commit: W.sha(1), asBranchHead: true)
        #expect(!verdict.allowed && verdict.reason == CommitRefusal.Reason.rewind.rawValue, "\(verdict.text)")
        #expect(try store.quarantined(app: "hello").isEmpty, "no quarantine written")
        #expect(try store.timeline(app: "hello", since: nil).count == timeline, "no timeline row")
        #expect(try store.mark(app: "hello") == mark, "the mark is as it was")
        #expect(verdict.text.contains("refused (rewind)") && verdict.text.contains("nothing was changed"), "\(verdict.text)")
        #expect(verdict.asBranchHead && verdict.live == W.sha(2))

        // The agent's deploy meets the same refusal, and quarantines it.
        let refusal = await #expect(throws: CommitRefusal.self) {
            _ = try await world.deployer.deploy(world.app(), cause: "push")
        }
        #expect(refusal?.reason.rawValue == verdict.reason && refusal?.detail == verdict.detail && refusal?.fix == verdict.fix)
        #expect(try store.quarantined(app: "hello").count == 1, "the deploy quarantined it")

        // As a pin it may go back; an unsigned commit is refused as a pin too.
        #expect(try await world.deployer.verdict(world.app(), commit: W.sha(1), asBranchHead: false).allowed)
        world.source.push(W.sha(3), app: "hello")
        let unsigned = try await world.deployer.verdict(world.app(), commit: W.sha(3), asBranchHead: false)
        #expect(unsigned.reason == CommitRefusal.Reason.unsigned.rawValue, "\(unsigned.text)")
    }

    /// A branch head its `promoted_from` ring does not hold is refused as the agent refuses it.
    @Test func aHeadPushedPastTheRingIsNotPromoted() async throws {
        let world = try MemoryWorld(apps: [("hello", RingTests.ring)])
        defer { world.tearDown() }
        for n in 1...2 { world.source.push(W.sha(n), app: "hello", branch: "main") }
        world.source.reset("hello", to: W.sha(2))
        let promoted = try await world.deployer.verdict(world.app(), commit: W.sha(2), asBranchHead: true)
        #expect(promoted.allowed && promoted.ring == "main", "\(promoted.text)")
        world.source.push(W.sha(9), app: "hello")
        let pushed = try await world.deployer.verdict(world.app(), commit: W.sha(9), asBranchHead: true)
        #expect(pushed.reason == CommitRefusal.Reason.notPromoted.rawValue, "\(pushed.text)")
        #expect(try world.runtime.store.quarantined(app: "hello").isEmpty)
    }

    /// The key that signed, as ssh-keygen names it; the command's exit status and JSON.
    @Test(.enabled(if: canSign, "needs git, ssh-keygen, gpg and gpgv"))
    func theCommandNamesTheSignerAndExitsZeroOnlyWhenAllowed() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLITests.binary), "build the jailpilot binary first")
        let scratch = try Scratch("verify")
        let repo = try await GitFixture()
        let alice = try await SSHSigner.make(in: "\(scratch.path)/keys", name: "alice")
        let signers = try scratch.write("keys/signers", alice.allowedSigner("alice@example.invalid"))
        let config = try scratch.write(
            "agent.conf",
            """
            [agent]
            platform = "linux"
            state_dir = "\(scratch.path)/state"
            log_file = ""
            [apps.hello]
            repo = "\(repo.fileURL)"
            hostnames = ["hello.localhost"]
            verify = "ssh"
            allowed_signers = "\(signers)"
            """)
        func verify(_ extra: [String] = []) async throws -> ProcessResult {
            try await HostProcessRunner().run(
                Command(CLITests.binary, ["verify", "-c", config, "hello"] + extra), timeout: .seconds(60))
        }
        let signed = try await alice.commit(repo, SignedCommitTests.app, message: "signed")
        let good = try await verify()
        #expect(good.status == 0, "\(good.stdoutText)\(good.stderrText)")
        #expect(good.stdoutText.contains("hello at \(signed.prefix(12)): allowed"), "\(good.stdoutText)")
        #expect(good.stdoutText.contains("signed: \(signed.prefix(12)) by alice@example.invalid (ED25519 key SHA256:"))

        try await repo.commit(["a.txt": "1"], message: "unsigned")
        let refused = try await verify(["--json"])
        #expect(refused.status == 1, "\(refused.stdoutText)\(refused.stderrText)")
        let json = try JSONSerialization.jsonObject(with: refused.stdout) as? [String: Any]
        #expect(json?["allowed"] as? Bool == false && json?["reason"] as? String == "unsigned", "\(refused.stdoutText)")
        let earlier = try await verify(["--sha", String(signed.prefix(12))])
        #expect(earlier.status == 0, "an ancestor of the head, with nothing live: \(earlier.stdoutText)\(earlier.stderrText)")

        let store = try StateStore(stateDir: "\(scratch.path)/state")
        #expect(try store.quarantined(app: "hello").isEmpty, "verify wrote no quarantine")
        #expect(try store.timeline(app: "hello", since: nil).isEmpty, "nor a timeline row")
    }
}
