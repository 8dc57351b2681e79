import Foundation
import JailPilot
import Testing

/// state_dir does not grow with every deploy: artifacts and logs live as long as a kept release
/// (or the commit about to deploy) needs them. Runs on the FreeBSD stand-in (real builds).
@Suite(.serialized, .enabled(if: canStandIn, "needs root, python3, go and setpriv"))
struct RetentionTests {
    func entries(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    @Test func artifactsAndLogsOfDestroyedReleasesGo() async throws {
        try await FreeBSDWorld.with(appExtra: "keep = 1") { world in
            let layout = world.runtime.layout
            let artifacts = "\(layout.root)/artifacts/hello"
            var shas: [String] = []
            for greeting in ["one", "two", "three", "four"] { shas.append(try await world.deployed(greeting).sha) }
            // Regression: every build's artifact stayed (8 deploys, keep = 2: 8 artifacts, 49 MiB).
            #expect(entries(artifacts) == shas.suffix(2).sorted(), "the live release and the one kept")
            let bad = try await world.repo.commitHello("bad", upStatus: 500)
            await #expect(throws: (any Error).self) { try await world.deployer.deploy(world.app) }
            let fifth = try await world.deployed("five")
            #expect(!entries(artifacts).contains(bad), "a failed release's artifact goes at the next retire")
            #expect(entries(artifacts) == [shas[3], fifth.sha].sorted())
            let buildLogs = entries(layout.logs("hello")).filter { $0.hasPrefix("build-") }
            #expect(buildLogs.contains("build-\(fifth.sha.prefix(12)).log"))
            #expect(buildLogs.count <= 2 + Retention.keptLogs)
            let kept = entries(layout.logs("hello")).filter { $0.hasPrefix("hello_") }
            #expect(kept.count == 1, "the failed release's log stays for its quarantine: \(kept)")
        }
    }
}
