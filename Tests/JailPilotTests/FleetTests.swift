import Foundation
import JailPilot
import Testing

/// Rollout rings across three hosts on this machine, end to end: each host is the real agent
/// with its own namespaces, btrfs, Caddy, resolver and state_dir (`SimHost`); a real Prometheus
/// scrapes their node_exporters and evaluates the shipped alert rules; `jailpilot promote` and
/// `jailpilot fleet status` are the real binary. One canary tracks main; two stable hosts track
/// stable with `promoted_from = "main"`.
@Suite(
    .serialized,
    .enabled(
        if: canDeploy && canMonitor,
        "needs root, caddy, go, btrfs-progs, iproute2, prometheus, prometheus-node-exporter, curl"))
struct ThreeHostTests {
    /// The forge: a bare repository the hosts poll and `promote` pushes to; commits are made in
    /// a work tree and pushed, as developers do.
    struct Forge {
        let repo: GitFixture
        let remote: String

        /// Commits the hello app saying `greeting` on `branch` and pushes it; its SHA.
        func commit(_ greeting: String, failAfterMs: Int? = nil, on branch: String = "main") async throws -> String {
            if branch != "main" {
                try await repo.git(["fetch", "-q", "forge", "\(branch):\(branch)"])
                try await repo.git(["checkout", "-q", branch])
            }
            let sha = try await repo.commitHello(greeting, failAfterMs: failAfterMs)
            try await repo.git(["push", "-q", "forge", branch])
            if branch != "main" { try await repo.git(["checkout", "-q", "main"]) }
            return sha
        }

        /// Where `branch` is on the forge.
        func head(_ branch: String) async throws -> String {
            try await repo.git(["--git-dir", remote, "rev-parse", branch], in: nil).trimmingCharacters(
                in: .whitespacesAndNewlines)
        }
    }

    static let names = ["canary-1", "stable-1", "stable-2"]

    func run(_ args: [String]) async throws -> ProcessResult {
        try await HostProcessRunner().run(Command(CrashTests.binary, args), timeout: .seconds(60))
    }

    /// The three hosts and Prometheus, torn down whatever `body` did.
    func withFleet(_ body: (Forge, [SimHost], String) async throws -> Void) async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CrashTests.binary), "build the jailpilot binary first")
        // Three agents building and deploying at once: not alongside the other deploy tests.
        await E2ELock.shared.acquire()
        let result = await Result {
            let scratch = try Scratch("fleet")
            // The forge: a bare repository every host polls and `promote` pushes to.
            let (repo, _, remote) = try await GitFixture.ringForge(in: scratch)
            try await repo.git(["remote", "add", "forge", remote])
            let (servers, url) = try await startPrometheus(
                "\(scratch.path)/metrics", hosts: Self.names, rules: "\(E2EHost.repoRoot)/monitoring/jailpilot.rules.yml")
            var hosts: [SimHost] = []
            let outcome = await Result {
                for (index, name) in Self.names.enumerated() {
                    hosts.append(
                        try await SimHost(
                            name, index: index + 1, remote: "file://\(remote)",
                            app: name.hasPrefix("stable") ? RingTests.ring : "",
                            metricsDir: "\(scratch.path)/metrics"))
                }
                try await body(Forge(repo: repo, remote: remote), hosts, url)
            }
            for host in hosts { await host.tearDown() }
            servers.forEach { $0.stop() }
            try outcome.get()
        }
        await E2ELock.shared.release()
        try result.get()
    }

    @Test func aCommitGoesCanaryThenStableAndNothingSkipsTheRing() async throws {
        try await withFleet { forge, hosts, url in
            let (canary, stables) = (hosts[0], Array(hosts[1...]))
            let good = try await forge.head("main")
            for host in hosts { await host.expectLive(good) }
            for host in hosts { #expect(await host.fetch() == "good", "\(host.name) serves it through its own Caddy") }

            // A good commit: the canary runs it; promote waits out the soak, then fast-forwards
            // stable, and both stable hosts deploy it.
            let next = try await forge.commit("next")
            await canary.expectLive(next)
            let common = [
                "promote", "hello", "--repo", "file://\(forge.remote)", "--prometheus", url, "--cache",
                "\(canary.state.path)/promote",
            ]
            let scraped = await eventually(.seconds(30)) {
                ((try? await run(common + ["--soak", "1s", "--dry-run"]))?.stdoutText ?? "").contains("would fast-forward")
            }
            #expect(scraped, "Prometheus never saw the canary run \(next.prefix(12))")
            let early = try await run(common + ["--soak", "1h"])
            #expect(early.status == 1 && early.stdoutText.contains("of the 1h soak"), "\(early.stdoutText)\(early.stderrText)")
            #expect(try await forge.head("stable") == good, "nothing promoted before the soak")
            for host in stables { #expect(await host.fetch() == "good") }
            // The soak is counted from when the canary went live, which may be under 2 s ago yet:
            // promote until it says it did, as a cron job would.
            var said = ""
            let promoted = await eventually(.seconds(20)) {
                guard let result = try? await run(common + ["--soak", "2s"]) else { return false }
                said = result.stdoutText + result.stderrText
                return result.status == 0
            }
            #expect(promoted, "\(said)")
            #expect(try await forge.head("stable") == next)
            for host in stables { await host.expectLive(next) }
            for host in stables { #expect(await host.fetch() == "next", "\(host.name)") }

            // A commit that fails probation on the canary flips back there and is never promoted.
            let bad = try await forge.commit("bad", failAfterMs: 600)
            let reverted = await eventually(.seconds(120)) {
                (try? canary.store().quarantineReason(app: "hello", sha: bad))?.contains("probation") == true
            }
            #expect(reverted, "\(canary.log.suffix(3000))")
            let served = await canary.fetch()
            #expect(canary.live() == next && served == "next", "\(served)")
            let held = await eventually(.seconds(30)) {
                let out = (try? await run(common + ["--soak", "1s"]))
                return out?.status == 1 && out?.stdoutText.contains("is at \(next.prefix(12)) already") == true
            }
            #expect(held, "promote offered something newer than the last good commit")
            #expect(try await forge.head("stable") == next)

            // A commit pushed straight to stable: both stable hosts refuse it before building it.
            let direct = try await forge.commit("straight to stable", on: "stable")
            for host in stables {
                let refused = await eventually(.seconds(30)) {
                    (try? host.store().quarantineReason(app: "hello", sha: direct))?.contains("not promoted") == true
                }
                #expect(refused, "\(host.name): \(host.log.suffix(2000))")
                #expect(host.log.contains("event=release.refused reason=\"not promoted\""), "\(host.name)")
                let served = await host.fetch()
                #expect(host.live() == next && served == "next", "\(host.name): what is live stays live (\(served))")
            }

            // fleet status says what each host runs and what it is behind; the alert rules agree.
            func fleet() async -> [FleetStatus.HostApp] {
                let json = (try? await run(["fleet", "status", "--prometheus", url, "--json"]))?.stdoutText ?? ""
                return ((try? JSONDecoder.iso.decode(FleetStatus.self, from: Data(json.utf8)))?.apps["hello"]) ?? []
            }
            let expected: [String: (live: String, behind: String)] = [
                "canary-1": (next, bad), "stable-1": (next, direct), "stable-2": (next, direct),
            ]
            // Each agent rewrites its fleet series on a period and Prometheus scrapes on another:
            // on a loaded machine the two together took longer than 30 s (CI, 2026-12-07).
            let agreed = await eventually(.seconds(120)) {
                let seen = await fleet()
                return seen.count == 3
                    && seen.allSatisfy { expected[$0.host]?.live == $0.live && expected[$0.host]?.behind == $0.behindHead }
            }
            let seen = await fleet()
            #expect(agreed, "\(seen)")
            #expect(seen.first { $0.host == "canary-1" }?.quarantined[bad] == "probation", "\(seen)")
            #expect(seen.filter { $0.branch == "stable" }.allSatisfy { $0.quarantined[direct] == "not promoted" }, "\(seen)")
            let text = try await run(["fleet", "status", "--prometheus", url]).stdoutText
            #expect(text.contains("stable-2  stable (from main)  live \(next.prefix(12))"), "\(text)")

            let prometheus = PrometheusAPI(url: url)
            func alerting(_ name: String, _ state: String) async -> Set<String> {
                let samples = (try? await prometheus.query("ALERTS{alertname=\"\(name)\",alertstate=\"\(state)\"}")) ?? []
                return Set(samples.compactMap { $0.labels["instance"] })
            }
            let behind = Set(seen.filter { $0.behindHead != nil }.map(\.host))
            let alerts = await eventually(.seconds(120)) {
                let failed = await alerting("JailpilotDeployFailed", "firing")
                let late = await alerting("JailpilotBehindItsBranch", "pending")
                return failed == ["canary-1"] && late == behind
            }
            let failed = await alerting("JailpilotDeployFailed", "firing")
            let late = await alerting("JailpilotBehindItsBranch", "pending")
            #expect(
                alerts, "deploy failed on \(failed) (only the canary's flip-back is one); behind on \(late), fleet says \(behind)"
            )
        }
    }
}
