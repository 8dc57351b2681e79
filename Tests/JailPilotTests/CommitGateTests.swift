import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// The commit gate as a phase of the release engine, on in-memory drivers: what it refuses is
/// never built, stays quarantined while nothing changes, and is tried again once the keys or
/// allow_rewind change. SignedCommitTests check the real signatures and tools.
@Suite struct CommitGateTests {
    typealias W = MemoryWorld

    func with(_ extra: String = "", _ body: (MemoryWorld, String) async throws -> Void) async throws {
        let signers = "/tmp/jailpilot-gate-\(UInt64.random(in: 0...UInt64.max))"
        try FileIO.replace(signers, text: "alice namespaces=\"git\" ssh-ed25519 AAAA\n")
        defer { unlink(signers) }
        let world = try MemoryWorld(apps: [("hello", "verify = \"ssh\"\nallowed_signers = \"\(signers)\"\n\(extra)")])
        defer { world.tearDown() }
        world.source.trust(["alice"], app: "hello")
        try await body(world, signers)
    }

    func deploy(_ world: MemoryWorld) async throws -> Release {
        try await world.deployer.deploy(world.app(), cause: "push").release
    }

    @Test func anUnsignedPushIsRefusedBeforeItsBuildAndStaysQuarantinedUntilTheKeysChange() async throws {
        try await with { world, signers in
            world.source.push(W.sha(1), app: "hello", signedBy: "alice")
            let live = try await deploy(world)
            let builds = world.source.builds
            world.source.push(W.sha(2), app: "hello")
            let refusal = await #expect(throws: CommitRefusal.self) { _ = try await deploy(world) }
            #expect(refusal?.reason == .unsigned)
            #expect(world.source.builds == builds, "refused before any build")
            #expect(try world.runtime.store.live(app: "hello")?.id == live.id, "what was live stays live")
            let app = world.app()
            let store = world.runtime.store
            #expect(
                try store.quarantineReason(app: "hello", prefix: W.sha(2), gate: CommitGate.stamp(app, live: W.sha(1)))?
                    .hasPrefix(
                        "refused (unsigned)") == true)
            // The keys change (the file is rewritten): the refusal no longer holds, the commit is asked about again.
            try FileIO.replace(
                signers, text: "alice namespaces=\"git\" ssh-ed25519 AAAA\nbob namespaces=\"git\" ssh-ed25519 BBBB\n")
            #expect(
                try store.quarantineReason(app: "hello", prefix: W.sha(2), gate: CommitGate.stamp(app, live: W.sha(1))) == nil)
            #expect(try store.quarantineReason(app: "hello", prefix: W.sha(2), gate: nil) != nil, "the record stays, for history")
            let history = try HistoryRow.rows(app: "hello", store: store)
            #expect(history.map(\.state) == ["refused", "live"], "history shows the refusal beside the releases")
            #expect(history.first?.text.contains("\(W.sha(2).prefix(12))  refused") == true)
            #expect(history.first?.text.contains("refused (unsigned)") == true, "\(history.first?.text ?? "")")
            let json = String(decoding: try JSONEncoder().encode(history.last), as: UTF8.self)
            #expect(!json.contains("order"), "the JSON keeps its keys: \(json)")
        }
    }

    @Test func aKeyOfAnotherAppOrAnUnknownOneIsRefusedAndSaysWhich() async throws {
        try await with { world, _ in
            world.source.trust(["bob"], app: "api")
            world.source.push(W.sha(1), app: "hello", signedBy: "bob")
            await #expect(
                throws: CommitRefusal(
                    app: "hello", sha: W.sha(1), reason: .keyOfAnotherApp, detail: "signed by a key allowed for api")
            ) {
                _ = try await deploy(world)
            }
            world.source.push(W.sha(2), app: "hello", signedBy: "mallory")
            let refusal = await #expect(throws: CommitRefusal.self) { _ = try await deploy(world) }
            #expect(refusal?.reason == .unknownKey)
            let live = try world.runtime.store.live(app: "hello")
            #expect(live == nil)
        }
    }

    @Test func strictScopeChecksEveryCommitSinceTheLiveOne() async throws {
        try await with("verify_scope = \"strict\"") { world, _ in
            world.source.push(W.sha(1), app: "hello", signedBy: "alice")
            _ = try await deploy(world)
            world.source.push(W.sha(2), app: "hello")
            world.source.push(W.sha(3), app: "hello", signedBy: "alice")
            let refusal = await #expect(throws: CommitRefusal.self) { _ = try await deploy(world) }
            #expect(refusal?.reason == .unsigned && refusal?.sha == W.sha(2) && refusal?.deploying == W.sha(3))
        }
    }

    @Test func aRewindIsRefusedThenDeployedOnceAllowRewindIsSet() async throws {
        try await with { world, _ in
            for n in 1...2 {
                world.source.push(W.sha(n), app: "hello", signedBy: "alice")
                _ = try await deploy(world)
            }
            world.source.reset("hello", to: W.sha(1))
            let refusal = await #expect(throws: CommitRefusal.self) { _ = try await deploy(world) }
            #expect(refusal?.reason == .rewind)
            #expect("\(refusal.map { "\($0)" } ?? "")".contains("pin = \"\(W.sha(1).prefix(12))\""), "the fix is in the message")
            let store = world.runtime.store
            #expect(
                try store.quarantineReason(app: "hello", prefix: W.sha(1), gate: CommitGate.stamp(world.app(), live: W.sha(2)))
                    != nil)
            // A deploy that names the commit (a pin, --sha) is not a rewind of the branch.
            let pinned = try await world.deployer.deploy(world.app(), sha: W.sha(1), cause: "pin")
            #expect(pinned.release.sha == W.sha(1))
            // Regression: the refusal was relative to the live release; with another one live the
            // branch head is asked about again (it was skipped until the branch moved).
            #expect(
                try store.quarantineReason(app: "hello", prefix: W.sha(1), gate: CommitGate.stamp(world.app(), live: W.sha(1)))
                    == nil)

            let allowing = try world.reopened(apps: [("hello", "allow_rewind = true")])
            #expect(
                try allowing.runtime.store.quarantineReason(
                    app: "hello", prefix: W.sha(1), gate: CommitGate.stamp(allowing.app(), live: W.sha(2))) == nil)
        }
    }

    @Test func theLiveReleaseIsCheckedAgainstTheKeysAsTheyAreNow() async throws {
        try await with { world, _ in
            world.source.push(W.sha(1), app: "hello", signedBy: "alice")
            let live = try await deploy(world)
            try await world.source.gate.verifyLive(world.app(), sha: live.sha)
            world.source.trust(["bob"], app: "hello")
            await #expect(throws: CommitRefusal.self) { try await world.source.gate.verifyLive(world.app(), sha: live.sha) }
            #expect(try world.runtime.store.live(app: "hello")?.id == live.id, "checking changes nothing")
        }
    }
}
