import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// A rollback refused for what was asked says that, not a list of kept releases.
@Suite struct RollbackRefusalTests {
    // Regression (#33): both read "no kept release of hello matches …; kept releases: <the reason>".
    @Test func aBadCommitOrAnAppWithoutDataIsRefusedInOneTrueSentence() async throws {
        let world = try MemoryWorld()
        defer { world.tearDown() }
        for n in 1...2 { try await world.push(n) }
        let deployer = world.deployer
        let badSHA = await Result { try await deployer.rollback(world.app(), to: "zzzz") }
        #expect(
            "\(badSHA)".contains("cannot roll back hello: --to 'zzzz' must be 7 to 40 hex digits, got 4 characters"),
            "\(badSHA)")
        let noData = await Result { try await deployer.dataRollbackPlan(world.app()) }
        #expect("\(noData)".contains("cannot roll back the data of hello: it has no data in agent.conf"), "\(noData)")
        for refusal in ["\(badSHA)", "\(noData)"] { #expect(!refusal.contains("kept releases"), "\(refusal)") }
        #expect(try world.runtime.store.live(app: "hello")?.sha == MemoryWorld.sha(2), "nothing moved")
    }
}
