import Foundation
import JailPilot
import Testing

/// An app is untrusted: on the Linux driver its jail has limits that hold (memory, disk), a
/// minimal /dev and its own hostname (root, btrfs with quotas, cgroups).
@Suite(.serialized, .enabled(if: canDeploy, "needs root, caddy, go, btrfs-progs and iproute2"))
struct JailLimitsTests {
    @Test func anAppGetsADevAHostnameAndLimitsThatHold() async throws {
        try await E2EWorld.with(appExtra: "memory = \"96MiB\"\ndisk = \"16MiB\"\ncpu = 0.5") { world in
            let sha = try await world.repo.commitProber()
            _ = try await world.deployer.deploy(world.app)
            let probe = await world.getFromLive("/probe")
            #expect(probe == "host=hello-\(sha.prefix(12)) null=ok urandom=ok", "\(probe)")

            // Disk: writes stop at the release's quota, and the filesystem the next deploy needs is not full.
            let fill = await world.getFromLive("/fill")
            let written = Int(fill.split(separator: " ").dropFirst().first?.dropLast() ?? "") ?? -1
            #expect(written >= 0 && written <= 17 << 20, "\(fill)")
            #expect(fill.contains("quota"), "\(fill)")
            _ = try await world.repo.commitProber("after the fill")
            let next = try await world.deployer.deploy(world.app)
            #expect(next.release.sha != sha)
            #expect(await world.getFromLive("/") == "after the fill")

            // Memory: over its limit the app is killed, and its supervisor brings it back.
            #expect(await world.getFromLive("/hog?mb=32") == "held 32 MiB")
            let killed = await world.getFromLive("/hog?mb=400")
            #expect(!killed.hasPrefix("held"), "\(killed)")
            let back = await eventually(.seconds(10)) { await world.getFromLive("/") == "after the fill" }
            #expect(back)
            let log = try String(
                contentsOfFile: "\(E2EHost.mountpoint)/containers/\(next.release.name)/var/log/hello.log", encoding: .utf8)
            #expect(log.contains("exited with status 137"), "\(log)")

            let status = try await AppStatus.collect(world.app, store: world.runtime.store)
            #expect(status.text.contains("limits    memory 96MiB, cpu 0.5, disk 16MiB per release"), "\(status.text)")
        }
    }
}
