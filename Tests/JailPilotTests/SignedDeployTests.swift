import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// Signed commits end to end on the Linux driver: a signed commit is built and served, an
/// unsigned one is refused before its build, quarantined, and shown by `status`; a rollback to
/// a kept release is not verified again, and says so.
@Suite(.serialized, .enabled(if: canDeploy && canSign, "needs root, caddy, go, btrfs-progs, iproute2, ssh-keygen"))
struct SignedDeployTests {
    /// The hello app saying `greeting`, as files to commit.
    static func app(_ greeting: String) -> [String: String] {
        ["main.go": GoFixture.hello(greeting), "go.mod": "module hello\n\ngo 1.19\n"]
    }

    /// A world whose app verifies SSH signatures against an allowed_signers file trusting alice;
    /// `body` gets the world, alice, and the file's path (to rewrite it).
    static func withAliceTrusted(_ body: (E2EWorld, SSHSigner, Scratch) async throws -> Void) async throws {
        let keys = try Scratch("keys")
        let alice = try await SSHSigner.make(in: keys.path, name: "alice")
        let signers = try keys.write("allowed_signers", alice.allowedSigner("alice@example.invalid"))
        try await E2EWorld.with(appExtra: "verify = \"ssh\"\nallowed_signers = \"\(signers)\"") { world in
            try await body(world, alice, keys)
        }
    }

    @Test func aSignedCommitIsServedAndAnUnsignedOneIsRefusedBeforeItsBuild() async throws {
        try await Self.withAliceTrusted { world, alice, _ in
            let app = Self.app
            let signed = try await alice.commit(world.repo, app("signed"), message: "signed")
            let first = try await world.deployer.deploy(world.app, cause: "push")
            #expect(first.release.sha == signed)
            #expect(await world.fetch() == "signed")

            let unsigned = try await world.repo.commit(app("unsigned"), message: "unsigned")
            let refusal = await #expect(throws: CommitRefusal.self) {
                _ = try await world.deployer.deploy(world.app, cause: "push")
            }
            #expect(refusal?.reason == .unsigned && refusal?.sha == unsigned)
            #expect(await world.fetch() == "signed", "what was live stays live")
            let layout = world.runtime.layout
            #expect(!FileIO.exists(layout.buildLog("hello", unsigned)), "never built")
            #expect(!FileIO.exists(layout.artifactDir("hello", unsigned)))
            let store = world.runtime.store
            #expect(try store.releases(app: "hello").count == 1, "no release row for it")
            let status = try await AppStatus.collect(world.app, store: store)
            #expect(status.text.contains("refused   \(unsigned.prefix(12)) refused (unsigned)"), "\(status.text)")
            let log = try String(contentsOfFile: "\(world.state.path)/agent.log", encoding: .utf8)
            #expect(log.contains("sha=\(unsigned.prefix(12)) event=release.refused reason=unsigned"), "\(log)")

            // A second signed release, then a rollback to the first: kept releases were verified when deployed.
            try await alice.commit(world.repo, app("signed again"), message: "signed again")
            _ = try await world.deployer.deploy(world.app, cause: "push")
            #expect(await world.fetch() == "signed again")
            let lines = Lines()
            let back = try await world.runtime.deployer(progress: { lines.append($0) }).rollback(world.app)
            #expect(back.release.sha == signed)
            #expect(lines.all.contains { $0.contains("verified when it was deployed") }, "\(lines.all)")
        }
    }
}

extension SignedDeployTests {
    /// Keys rotate: the agent re-checks the live release when the key file changes, says loudly
    /// that it no longer verifies, and keeps it serving; a commit by the removed key is refused.
    @Test func aLiveReleaseWhoseKeyIsRemovedKeepsServingAndIsFlagged() async throws {
        try await Self.withAliceTrusted { world, alice, keys in
            let app = Self.app
            let bob = try await SSHSigner.make(in: keys.path, name: "bob")
            let signed = try await alice.commit(world.repo, app("by alice"), message: "by alice")
            let agent = try Agent(configPath: world.configPath)
            let running = Task { await agent.run() }
            try await world.expectLive(signed)

            // alice leaves; only bob may sign now.
            try keys.write("allowed_signers", bob.allowedSigner("bob@example.invalid"))
            #expect(
                await eventually(.seconds(20)) {
                    world.agentLogTail(lines: 200).contains("event=release.unverified reason=\"unknown key\"")
                }, "\(world.agentLogTail())")
            #expect(await world.fetch() == "by alice", "never an outage on a key rotation")
            let status = try await AppStatus.collect(
                world.app, store: world.runtime.store, gate: SourcePipeline(runtime: world.runtime).gate)
            #expect(status.text.contains("the live release NO LONGER VERIFIES (unknown key"), "\(status.text)")

            let next = try await alice.commit(world.repo, app("alice again"), message: "alice again")
            #expect(
                await eventually(.seconds(20)) {
                    world.agentLogTail(lines: 200).contains("sha=\(next.prefix(12)) event=release.refused reason=\"unknown key\"")
                }, "\(world.agentLogTail())")
            #expect(try world.runtime.store.live(app: "hello")?.sha == signed)
            await agent.stop()
            await running.value

            // A restart checks again and says so in the log; the timeline keeps its one entry.
            let said = world.agentLogTail(lines: 400).components(separatedBy: "event=release.unverified").count
            let again = try Agent(configPath: world.configPath)
            let rerun = Task { await again.run() }
            #expect(
                await eventually(.seconds(20)) {
                    world.agentLogTail(lines: 400).components(separatedBy: "event=release.unverified").count > said
                }, "\(world.agentLogTail())")
            await again.stop()
            await rerun.value
            let entries = try world.runtime.store.timeline(app: "hello").filter { $0.outcome == "unverified" }
            #expect(entries.count == 1, "\(entries.map { "\($0.time) \($0.cause) \($0.detail)" })")
        }
    }
}

/// Progress lines a deployer printed.
final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    var all: [String] { lock.withLock { lines } }
    func append(_ line: String) { lock.withLock { lines.append(line) } }
}

extension SignedDeployTests {
    /// OpenPGP end to end: a commit signed by the keyring's key is built and served; one signed
    /// by a key outside the keyring is refused before its build; a force-push back to the older
    /// signed commit is a rewind, refused until allow_rewind.
    @Test func aGPGSignedCommitIsServedAndAnotherKeyOrARewindIsRefused() async throws {
        let keys = try Scratch("gpg-keys")
        let carol = try await GPGSigner.make(in: keys.path, name: "carol")
        let mallory = try await GPGSigner.make(in: "\(keys.path)/mallory", name: "mallory")
        let extra = "verify = \"gpg\"\nkeyring = \"\(carol.keyring)\""
        try await E2EWorld.with(appExtra: extra) { world in
            let files = Self.app
            let first = try await carol.commit(world.repo, files("by carol"), message: "by carol")
            #expect(try await world.deployer.deploy(world.app, cause: "push").release.sha == first)
            #expect(await world.fetch() == "by carol")

            let forged = try await mallory.commit(world.repo, files("by mallory"), message: "by mallory")
            let refusal = await #expect(throws: CommitRefusal.self) {
                _ = try await world.deployer.deploy(world.app, cause: "push")
            }
            #expect(refusal?.reason == .unknownKey && refusal?.sha == forged, "\(String(describing: refusal))")
            #expect(!FileIO.exists(world.runtime.layout.buildLog("hello", forged)), "never built")

            let second = try await carol.commit(world.repo, files("by carol again"), message: "again")
            _ = try await world.deployer.deploy(world.app, cause: "push")
            #expect(await world.fetch() == "by carol again")
            #expect(try world.runtime.store.mark(app: "hello")?.sha == second)

            // The branch is forced back to the first signed commit: a replay.
            try await world.repo.git(["reset", "-q", "--hard", first])
            let rewind = await #expect(throws: CommitRefusal.self) {
                _ = try await world.deployer.deploy(world.app, cause: "push")
            }
            #expect(rewind?.reason == .rewind, "\(String(describing: rewind))")
            #expect(await world.fetch() == "by carol again", "what was live stays live")
            var conf = world.conf
            conf[app: "hello"].allowRewind = true
            let allowing = try Runtime(config: try conf.parsed(file: world.configPath), echo: false)
            let app = try #require(allowing.config.app("hello"))
            #expect(try await allowing.deployer().deploy(app, cause: "push").release.sha == first)
            #expect(await world.fetch() == "by carol")
        }
    }
}
