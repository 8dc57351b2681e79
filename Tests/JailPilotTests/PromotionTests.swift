import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// When `jailpilot promote` may move a ring: the verdict from what the hosts report, in
/// milliseconds; then the whole command against a real Prometheus and a real remote.
@Suite struct PromotionTests {
    typealias W = MemoryWorld
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func promotion(
        _ hosts: [(String, String, Double)], reverted: Set<String> = [], quarantined: [String: String] = [:],
        ringHosts: Int? = nil
    )
        -> Promotion
    {
        Promotion(
            app: "hello", from: "main",
            hosts: hosts.map {
                Promotion.Host(
                    instance: $0.0, sha: $0.1, since: now.addingTimeInterval(-$0.2), written: now.addingTimeInterval(-1),
                    name: $0.0)
            },
            reverted: reverted, quarantined: quarantined.mapValues { [$0] }, ringHosts: ringHosts, soak: .seconds(1800))
    }

    @Test func aCommitEveryCanaryRanForTheSoakIsPromotedAndAnythingLessWaits() {
        let a = W.sha(1), b = W.sha(2)
        #expect(promotion([("c1", a, 3600), ("c2", a, 1900)]).verdict(now: now) == .promote(a))
        guard case .wait(let soaking) = promotion([("c1", a, 3600), ("c2", a, 600)]).verdict(now: now) else {
            Issue.record("promoted before the soak")
            return
        }
        #expect(soaking.contains("c2 has run \(a.prefix(12)) for 10m of the 30m soak"), "\(soaking)")
        guard case .wait(let split) = promotion([("c1", a, 3600), ("c2", b, 3600)]).verdict(now: now) else {
            Issue.record("promoted while the canaries disagree")
            return
        }
        #expect(split.contains("run different commits"), "\(split)")
        #expect(promotion([("c1", a, 3600)], reverted: [a]).verdict(now: now) != .promote(a), "flipped back somewhere")
        #expect(promotion([("c1", a, 3600)], quarantined: [a: "probation"]).verdict(now: now) != .promote(a))
        // A later ring's host refused it as not promoted yet: that is what promotion changes.
        #expect(promotion([("c1", a, 3600)], quarantined: [a: "not promoted"]).verdict(now: now) == .promote(a))
        #expect(promotion([("c1", a, 3600)], ringHosts: 2).verdict(now: now) != .promote(a), "a canary is missing")
        #expect(promotion([]).verdict(now: now) != .promote(a))
    }

    @Test func aHostWhoseAgentStoppedOrStillInProbationHoldsThePromotion() {
        let a = W.sha(1)
        var stale = promotion([("c1", a, 3600), ("c2", a, 3600)])
        // c2's agent died an hour ago; node_exporter still serves its last file.
        stale.hosts[1].written = now.addingTimeInterval(-3600)
        guard case .wait(let why) = stale.verdict(now: now) else {
            Issue.record("promoted on a dead agent's word")
            return
        }
        #expect(why.contains("c2 wrote its metrics 1h ago: is its agent running?"), "\(why)")
        var probation = promotion([("c1", a, 3600)])
        probation.hosts[0].inProbation = true
        #expect(probation.verdict(now: now) == .wait("c1 still has \(a.prefix(12)) in probation"))
    }

    @Test func prometheusAnswersAreReadAndAnythingElseIsAClearError() throws {
        let answer = #"""
            {"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"jailpilot_live_info","app":"hello","instance":"c1","sha":"abc"},"value":[1800000000.1,"1"]}]}}
            """#
        let samples = try PrometheusAPI.parse(Data(answer.utf8))
        #expect(
            samples == [
                PrometheusSample(
                    labels: ["__name__": "jailpilot_live_info", "app": "hello", "instance": "c1", "sha": "abc"], value: 1)
            ])
        #expect(throws: PrometheusError.self) { try PrometheusAPI.parse(Data("<html>proxy error</html>".utf8)) }
        #expect(throws: PrometheusError.self) { try PrometheusAPI.parse(Data(#"{"status":"error","error":"bad query"}"#.utf8)) }
    }
}

/// Prometheus' answers to `Promotion.ask`, without a Prometheus: each query is answered with
/// the samples of the metric it names, in the order given (curl is never run).
final class PrometheusAnswers: ProcessRunning, @unchecked Sendable {
    let samples: [PrometheusSample]

    init(_ samples: [PrometheusSample]) { self.samples = samples }

    func run(_ command: Command, stdout: OutputTarget, stderr: OutputTarget, timeout: Duration?) async throws -> ProcessResult {
        let query = command.arguments.first { $0.hasPrefix("query=") }?.dropFirst("query=".count) ?? ""
        let name = String(query.prefix { $0 != "{" && $0 != " " })
        // The comparisons the queries end with, as PromQL filters by them.
        let keep: (Double) -> Bool = query.hasSuffix("> 0") ? { $0 > 0 } : query.hasSuffix("== 1") ? { $0 == 1 } : { _ in true }
        let result = samples.filter { $0.labels["__name__"] == name && keep($0.value) }.map { sample -> JSONValue in
            .object([
                "metric": .object(sample.labels.mapValues(JSONValue.string)),
                "value": .array([.double(1_800_000_000), .string(String(sample.value))]),
            ])
        }
        let answer = JSONValue.object([
            "status": .string("success"), "data": .object(["resultType": .string("vector"), "result": .array(result)]),
        ])
        return ProcessResult(status: 0, stdout: try answer.encoded())
    }
}

/// What several agents export, as Prometheus answers it: series of one scrape target carry its
/// `instance` and `job`, and the agent's own name for its host is `jailpilot_host_info{host}`.
@Suite struct PromotionFromPrometheusTests {
    typealias W = MemoryWorld
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// The series one agent on `host` running `sha` on main writes, as target `instance`/`job` has them.
    func agent(
        _ host: String, sha: String, instance: String? = nil, job: String = "node", ran: Double = 3600,
        quarantined: [(String, String)] = []
    ) -> [PrometheusSample] {
        let target = ["instance": instance ?? "\(host):9100", "job": job]
        func series(_ name: String, _ labels: [String: String], _ value: Double) -> PrometheusSample {
            PrometheusSample(labels: target.merging(labels) { $1 }.merging(["__name__": name]) { $1 }, value: value)
        }
        let app = ["app": "hello"]
        return [
            series("jailpilot_live_info", app.merging(["sha": sha, "branch": "main", "promoted_from": ""]) { $1 }, 1),
            series("jailpilot_live_since_seconds", app.merging(["sha": sha]) { $1 }, now.timeIntervalSince1970 - ran),
            series("jailpilot_probation", app, 0),
            series("jailpilot_metrics_written_seconds", [:], now.timeIntervalSince1970 - 5),
            series("jailpilot_host_info", ["host": host], 1),
        ]
            + quarantined.map {
                series(
                    "jailpilot_quarantined_info", app.merging(["sha": $0.0, "reason": $0.1]) { $1 }, now.timeIntervalSince1970)
            }
    }

    func verdict(_ samples: [PrometheusSample], ringHosts: Int? = nil) async throws -> Promotion.Verdict {
        let prometheus = PrometheusAPI(url: "http://prometheus.invalid:9090", runner: PrometheusAnswers(samples))
        return try await Promotion.ask(prometheus, app: "hello", from: "main", ringHosts: ringHosts, soak: .seconds(1800))
            .verdict(now: now)
    }

    @Test func oneHostScrapedByTwoJobsIsOneHostOfTheRing() async throws {
        let a = W.sha(1)
        // canary-1's node_exporter is scraped by two jobs (a second scrape config): two series
        // of everything, one host.
        let twice = agent("canary-1", sha: a) + agent("canary-1", sha: a, job: "node-again")
        let counted = try await verdict(twice, ringHosts: 2)
        #expect(counted != .promote(a), "one host is not two")
        #expect("\(counted)".contains("1 of the 2 hosts of main"), "\(counted)")
        // Under another instance name too (its address and its DNS name): still one host.
        let renamed = agent("canary-1", sha: a) + agent("canary-1", sha: a, instance: "10.0.0.1:9100")
        #expect(try await verdict(renamed, ringHosts: 2) != .promote(a))
        // Two hosts are two hosts, however often each is scraped.
        #expect(try await verdict(twice + agent("canary-2", sha: a), ringHosts: 2) == .promote(a))
    }

    @Test func twoSeriesClaimingOneHostWithDifferentCommitsAreRefused() async throws {
        let a = W.sha(1), b = W.sha(2)
        let claimed = agent("canary-1", sha: a) + agent("canary-1", sha: b, instance: "10.0.0.9:9100") + agent("canary-2", sha: a)
        let refused = try await verdict(claimed)
        #expect(refused != .promote(a) && refused != .promote(b))
        let text = "\(refused)"
        #expect(text.contains("canary-1") && text.contains("refuse"), "\(text)")
        #expect(
            text.contains(String(a.prefix(12))) && text.contains(String(b.prefix(12))) && text.contains("10.0.0.9:9100"),
            "\(text)")
        // A target that says live but not which host it is cannot be counted either.
        let nameless = agent("canary-1", sha: a).filter { $0.labels["__name__"] != "jailpilot_host_info" }
        guard case .refuse(let why) = try await verdict(nameless + agent("canary-2", sha: a)) else {
            Issue.record("a series without a host was counted")
            return
        }
        #expect(why.contains("canary-1:9100 (job node)") && why.contains("jailpilot_host_info"), "\(why)")
    }

    @Test func aFailureOnAnyHostBlocksTheCommitWhateverTheOrderOfTheAnswers() async throws {
        let a = W.sha(1)
        // canary-2's health gate failed a (quarantined); stable-1 refused it as not promoted
        // yet. The refusal must not hide the failure, in whichever order Prometheus lists them.
        let failed = agent("canary-1", sha: a) + agent("canary-2", sha: a, quarantined: [(a, "health")])
        let refusal = PrometheusSample(
            labels: [
                "__name__": "jailpilot_quarantined_info", "instance": "stable-1:9100", "job": "node", "app": "hello", "sha": a,
                "reason": "not promoted",
            ], value: now.timeIntervalSince1970)
        let first = try await verdict(failed + [refusal])
        let second = try await verdict([refusal] + failed)
        #expect(first != .promote(a), "\(first)")
        #expect(second != .promote(a), "\(second)")
        #expect(first == second, "the same answers give the same verdict")
        // A refusal alone is the later ring's policy: it does not block.
        #expect(try await verdict(agent("canary-1", sha: a) + [refusal]) == .promote(a))
    }
}

extension JSONDecoder {
    /// Decodes ISO 8601 dates, as the CLI's `--json` writes them.
    static var iso: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

/// `jailpilot promote` end to end: a real Prometheus scrapes three hosts' node_exporters, whose
/// textfile collectors read the metrics file each host's agent code writes from its store (the
/// hosts' release engines on in-memory drivers), and the command fast-forwards a real remote.
@Suite(
    .serialized,
    .enabled(
        if: canMonitor,
        "needs prometheus, prometheus-node-exporter, curl, git (scripts/install-deps installs them)"))
struct PromoteCommandTests {
    /// Writes `world`'s metrics as host `name`, where that host's node_exporter reads them.
    func export(_ world: MemoryWorld, as name: String, to dir: String) async throws {
        try FileIO.makeDirectories("\(dir)/\(name)")
        let metrics = Metrics(path: "\(dir)/\(name)/jailpilot.prom")
        await metrics.describeReleases(world.runtime.config.apps, store: world.runtime.store, host: name)
        await metrics.flush()
    }

    func promote(_ args: [String]) async throws -> ProcessResult {
        try await HostProcessRunner().run(Command(CrashTests.binary, ["promote", "hello"] + args), timeout: .seconds(60))
    }

    @Test func aGoodCommitIsPromotedAfterTheSoakAndAFlippedBackOneNever() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: CrashTests.binary), "build the jailpilot binary first")
        let scratch = try Scratch("promote")
        let (repo, good, remote) = try await GitFixture.ringForge(in: scratch)
        let next = try await repo.commitHello("next")
        try await repo.git(["push", "-q", remote, "main"])
        let bad = try await repo.commitHello("bad")
        try await repo.git(["push", "-q", remote, "main"])

        // Two canaries on main run `next` (the memory driver's engine, their real metrics); a
        // stable host runs `good`.
        var canaries: [MemoryWorld] = []
        for _ in 0..<2 {
            let world = try MemoryWorld()
            world.source.push(good, app: "hello")
            world.source.push(next, app: "hello")
            _ = try await world.deployer.deploy(world.app(), cause: "push")
            canaries.append(world)
        }
        let stable = try MemoryWorld(apps: [("hello", "branch = \"stable\"\npromoted_from = \"main\"")])
        defer { (canaries + [stable]).forEach { $0.tearDown() } }
        try await export(canaries[0], as: "canary-1", to: scratch.path)
        try await export(canaries[1], as: "canary-2", to: scratch.path)
        try await export(stable, as: "stable-1", to: scratch.path)
        let (servers, url) = try await startPrometheus(scratch.path, hosts: ["canary-1", "canary-2", "stable-1"])
        defer { servers.forEach { $0.stop() } }
        let common = ["--repo", "file://\(remote)", "--prometheus", url, "--ring-hosts", "2", "--cache", "\(scratch.path)/cache"]
        // Wait for the first scrape of both canaries.
        let scraped = await eventually(.seconds(20)) {
            let out = (try? await promote(common + ["--soak", "1s", "--dry-run"]))?.stdoutText ?? ""
            return out.contains("would fast-forward")
        }
        #expect(scraped, "Prometheus never had both canaries")

        // Before the soak: nothing, and why; exit 1.
        let early = try await promote(common + ["--soak", "1h"])
        #expect(early.status == 1 && early.stdoutText.contains("of the 1h soak"), "\(early.stdoutText)\(early.stderrText)")
        #expect(try await repo.git(["--git-dir", remote, "rev-parse", "stable"], in: nil).hasPrefix(good))

        // After it: stable is fast-forwarded to `next` on the remote.
        let done = try await promote(common + ["--soak", "1s"])
        #expect(done.status == 0, "\(done.stdoutText)\(done.stderrText)")
        #expect(done.stdoutText.contains("fast-forwarded stable \(good.prefix(12)) → \(next.prefix(12))"), "\(done.stdoutText)")
        #expect(try await repo.git(["--git-dir", remote, "rev-parse", "stable"], in: nil).hasPrefix(next))
        let again = try await promote(common + ["--soak", "1s"])
        #expect(again.status == 1 && again.stdoutText.contains("is at \(next.prefix(12)) already"), "\(again.stdoutText)")

        // `bad` fails probation on a canary (flip-back): it is never promoted.
        for world in canaries {
            world.source.push(bad, app: "hello")
            world.health.set(bad, .failsAfter(3))
            await #expect(throws: DeployError.self) { _ = try await world.deployer.deploy(world.app(), cause: "push") }
        }
        try await export(canaries[0], as: "canary-1", to: scratch.path)
        try await export(canaries[1], as: "canary-2", to: scratch.path)
        let seen = await eventually(.seconds(20)) {
            ((try? await promote(common + ["--soak", "1s", "--dry-run"]))?.stdoutText ?? "").contains("already")
        }
        #expect(seen, "the canaries are back on next: nothing newer than the last good one")
        #expect(try await repo.git(["--git-dir", remote, "rev-parse", "stable"], in: nil).hasPrefix(next))

        // The stable host saw the new head of stable and runs nothing yet: fleet status says so,
        // and agrees with what each host runs.
        try stable.runtime.store.saveHead(app: "hello", branch: "stable", sha: next)
        try await export(stable, as: "stable-1", to: scratch.path)
        func fleet(_ args: [String]) async throws -> ProcessResult {
            try await HostProcessRunner().run(
                Command(CrashTests.binary, ["fleet", "status", "--prometheus", url] + args), timeout: .seconds(60))
        }
        func hosts() async -> [FleetStatus.HostApp] {
            let json = (try? await fleet(["--json"]))?.stdoutText ?? ""
            return ((try? JSONDecoder.iso.decode(FleetStatus.self, from: Data(json.utf8)))?.apps["hello"]) ?? []
        }
        let agreed = await eventually(.seconds(20)) {
            let now = await hosts()
            return now.count == 3 && now.last?.behindHead == next
                && now.filter { $0.branch == "main" }.allSatisfy { $0.quarantined[bad] == "probation" }
        }
        let seenHosts = await hosts()
        #expect(agreed, "\(seenHosts)")
        #expect(seenHosts.map(\.host) == ["canary-1", "canary-2", "stable-1"], "ring main first, then stable")
        #expect(seenHosts.filter { $0.branch == "main" }.allSatisfy { $0.live == next }, "\(seenHosts)")
        #expect(seenHosts.last?.live == nil && seenHosts.last?.promotedFrom == "main", "\(seenHosts)")
        let text = try await fleet([]).stdoutText
        #expect(text.contains("stable-1  stable (from main)  nothing live, BEHIND stable (head \(next.prefix(12)))"), "\(text)")
        #expect(text.contains("canary-1  main  live \(next.prefix(12))"), "\(text)")
    }
}
