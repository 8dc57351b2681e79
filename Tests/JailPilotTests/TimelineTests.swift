import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// The timeline on in-memory drivers: every flip, failure and refusal is an entry that later
/// rollbacks, flip-backs and retention leave as it was.
@Suite struct TimelineTests {
    typealias W = MemoryWorld

    @Test func deployFlipBackRollbackAndResumeEachLeaveAnEntry() async throws {
        let world = try MemoryWorld()
        defer { world.tearDown() }
        try await world.push(1)
        try await world.push(2)
        world.health.set(W.sha(3), .failsAfter(3))
        await #expect(throws: DeployError.self) { try await world.push(3) }
        var cli = world.deployer
        cli.actor = "cli:alice"
        _ = try await cli.rollback(world.app(), to: String(W.sha(1).prefix(12)))
        world.source.push(W.sha(4), app: "hello")
        _ = try await cli.resume(world.app())

        let entries = try world.runtime.store.timeline(app: "hello")
        let summary = entries.map {
            "\($0.from.map { String($0.prefix(12)) } ?? "-")>\($0.to.prefix(12)) \($0.outcome) \($0.cause) \($0.actor)"
        }
        let s = { (n: Int) in String(W.sha(n).prefix(12)) }
        #expect(
            summary == [
                "\(s(1))>\(s(4)) live resume cli:alice",
                "\(s(2))>\(s(1)) live rollback cli:alice",
                "\(s(3))>\(s(2)) live flip-back agent",
                "\(s(2))>\(s(3)) reverted push agent",
                "\(s(1))>\(s(2)) live push agent",
                "->\(s(1)) live push agent",
            ], "\(summary)")
        #expect(entries[3].detail.hasPrefix("probation: "), "\(entries[3].detail)")
        #expect(entries.first?.phases.map(\.name).contains("health") == true, "\(entries.first?.phases ?? [])")
        let line = entries[0].line(verbose: true)
        #expect(line.contains("\(W.sha(1).prefix(12)) → \(W.sha(4).prefix(12))  live  resume by cli:alice"), "\(line)")
        #expect(line.contains("\n    ") && line.contains("total="), "\(line)")
        #expect(try world.runtime.store.timeline(app: "hello", since: Date().addingTimeInterval(3600)).isEmpty)
    }

    @Test func failuresAndRefusalsAreEntriesTooAndRetentionKeepsThem() async throws {
        let world = try MemoryWorld(apps: [("hello", "keep = 1")])
        defer { world.tearDown() }
        try await world.push(1)
        world.source.breakBuild(W.sha(2))
        await #expect(throws: BuildError.self) { try await world.push(2) }
        world.health.set(W.sha(3), .never)
        await #expect(throws: DeployError.self) { try await world.push(3) }
        world.source.reset("hello", to: W.sha(1))
        world.source.push(W.sha(5), app: "hello")
        for n in 6...8 { try await world.push(n) }
        // A force-push back: refused, and an entry says so.
        world.source.reset("hello", to: W.sha(6))
        await #expect(throws: CommitRefusal.self) { _ = try await world.deployer.deploy(world.app(), cause: "push") }
        let entries = try world.runtime.store.timeline(app: "hello")
        #expect(entries.first?.outcome == "refused" && entries.first?.detail.hasPrefix("rewind: ") == true)
        #expect(entries.contains { $0.to == W.sha(2) && $0.outcome == "failed" && $0.detail.hasPrefix("build: ") })
        #expect(entries.contains { $0.to == W.sha(3) && $0.outcome == "failed" && $0.detail.hasPrefix("health: ") })
        #expect(entries.last?.to == W.sha(1), "the first deploy is still there after retention destroyed its release")
        #expect(try world.runtime.store.releases(app: "hello").first { $0.sha == W.sha(1) }?.state == .destroyed)
    }
}
