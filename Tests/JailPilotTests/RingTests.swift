import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// Rollout rings on in-memory drivers: an app that follows `stable` with `promoted_from =
/// "main"` deploys only heads that `main` has had, on every host, whoever pushed them.
@Suite struct RingTests {
    typealias W = MemoryWorld
    static let ring = "branch = \"stable\"\npromoted_from = \"main\""

    func world() throws -> MemoryWorld {
        let world = try MemoryWorld(apps: [("hello", Self.ring)])
        // main: 1 → 2 → 3; stable is fast-forwarded to 2 (promoted).
        for n in 1...3 { world.source.push(W.sha(n), app: "hello", branch: "main") }
        return world
    }

    func deploy(_ world: MemoryWorld) async throws -> Release {
        try await world.deployer.deploy(world.app(), cause: "push").release
    }

    @Test func aPromotedHeadDeploysAndOnePushedStraightToTheRingIsRefusedBeforeItsBuild() async throws {
        let world = try world()
        defer { world.tearDown() }
        world.source.reset("hello", to: W.sha(2))
        #expect(try await deploy(world).sha == W.sha(2))
        let builds = world.source.builds

        // Someone pushes to stable directly: a child of 2 that main never had.
        world.source.push(W.sha(9), app: "hello")
        let refusal = await #expect(throws: CommitRefusal.self) { _ = try await deploy(world) }
        #expect(refusal?.reason == .notPromoted)
        #expect(refusal?.detail.contains("not on main (its head: \(W.sha(3).prefix(12)))") == true, "\(refusal?.detail ?? "")")
        #expect(refusal.map { "\($0)" }?.contains("jailpilot promote") == true, "the fix is said")
        #expect(world.source.builds == builds, "refused before any build")
        #expect(try world.runtime.store.live(app: "hello")?.sha == W.sha(2), "what is live stays live")
        let events = try world.runtime.store.events(app: "hello", limit: 20)
        #expect(events.contains { $0.name == "release.refused" && $0.fields.contains { $0 == ("reason", "not promoted") } })

        // Quarantined while the ring stays where it is; checked again once the ring moves.
        let store = world.runtime.store
        let mark = try store.mark(app: "hello")?.sha
        let now = CommitGate.stamp(world.app(), live: W.sha(2), mark: mark, ring: W.sha(3))
        #expect(try store.quarantineReason(app: "hello", prefix: W.sha(9), gate: now)?.contains("not promoted") == true)
        let moved = CommitGate.stamp(world.app(), live: W.sha(2), mark: mark, ring: W.sha(9))
        #expect(try store.quarantineReason(app: "hello", prefix: W.sha(9), gate: moved) == nil)

        // main takes it (the canaries run it): now it may go out here too, and the refusal that
        // held it back is gone (nothing reports it as quarantined any more).
        world.source.push(W.sha(9), app: "hello", branch: "main")
        #expect(try await deploy(world).sha == W.sha(9))
        #expect(try store.quarantineReason(app: "hello", sha: W.sha(9)) == nil)
    }

    @Test func aRefusedHeadStaysRefusedForResumeAndForADeployWithoutSHA() async throws {
        let world = try world()
        defer { world.tearDown() }
        world.source.reset("hello", to: W.sha(2))
        _ = try await deploy(world)
        world.source.push(W.sha(9), app: "hello")
        await #expect(throws: CommitRefusal.self) { _ = try await deploy(world) }
        // An operator runs `jailpilot deploy hello` or `jailpilot resume hello`: the same head.
        let manual = await #expect(throws: CommitRefusal.self) {
            _ = try await world.deployer.deploy(world.app(), cause: "manual")
        }
        #expect(manual?.reason == .notPromoted)
        await #expect(throws: CommitRefusal.self) { _ = try await world.deployer.resume(world.app()) }
        #expect(try world.runtime.store.live(app: "hello")?.sha == W.sha(2))
        // Naming the commit is the operator's own choice.
        #expect(try await world.deployer.deploy(world.app(), sha: W.sha(9)).release.sha == W.sha(9))
    }

    @Test func aRingWhoseBranchIsGoneRefusesAndAPinIsTheOperatorsOwnChoice() async throws {
        let world = try MemoryWorld(apps: [("hello", Self.ring)])
        defer { world.tearDown() }
        world.source.push(W.sha(1), app: "hello")
        let refusal = await #expect(throws: CommitRefusal.self) { _ = try await deploy(world) }
        #expect(refusal?.reason == .notPromoted && refusal?.detail.contains("no branch 'main'") == true)
        // A pin (or jailpilot deploy --sha) names its commit on purpose, like a rewind.
        #expect(try await world.deployer.deploy(world.app(), sha: W.sha(1)).release.sha == W.sha(1))
    }

    @Test func promotedFromIsCheckedInAgentConf() {
        func problems(_ app: String) -> [String] {
            do {
                _ = try ConfigLoader.parse(
                    "[agent]\nplatform = \"linux\"\nstate_dir = \"/tmp/x\"\n[apps.hello]\nrepo = \"https://e.example/h.git\"\nhostnames = [\"h.localhost\"]\n\(app)\n",
                    file: "agent.conf"
                )
                return []
            } catch { return ["\(error)"] }
        }
        #expect(problems("promoted_from = \"main\"").first?.contains("is the branch this app follows") == true)
        #expect(problems("branch = \"stable\"\npromoted_from = \"a..b\"").first?.contains("promoted_from") == true)
        #expect(problems("branch = \"stable\"\npromoted_from = \"main\"").isEmpty)
    }
}

/// A ring on the Linux driver with a real remote: libgit2 lists both refs in one listing, the
/// mirror fetches the ring's ref with the branch, and the containment check runs on it.
@Suite(.serialized, .enabled(if: canDeploy, "needs root, caddy, go, btrfs-progs, iproute2"))
struct RingDeployTests {
    @Test func aCommitPushedStraightToStableIsRefusedUntilMainHasIt() async throws {
        try await E2EWorld.with(appExtra: RingTests.ring) { world in
            let v1 = try await world.repo.commitHello("one")
            try await world.repo.git(["branch", "stable", v1])
            let listed = try await RemoteRefs().heads(of: "stable", and: "main", at: RemoteAccess(app: world.app))
            #expect(listed.head == v1 && listed.other == v1, "both from one listing")
            #expect(try await world.deployer.deploy(world.app, cause: "push").release.sha == v1)
            #expect(await world.fetch() == "one")

            // A commit on stable that main does not have.
            try await world.repo.git(["checkout", "-q", "stable"])
            let direct = try await world.repo.commitHello("straight to stable")
            let refusal = await #expect(throws: CommitRefusal.self) {
                _ = try await world.deployer.deploy(world.app, cause: "push")
            }
            #expect(refusal?.reason == .notPromoted && refusal?.sha == direct, "\(String(describing: refusal))")
            #expect(!FileIO.exists(world.runtime.layout.buildLog("hello", direct)), "never built")
            #expect(await world.fetch() == "one", "what is live stays live")

            // main takes it (fast-forward): now stable's head is promoted.
            try await world.repo.git(["checkout", "-q", "main"])
            try await world.repo.git(["merge", "-q", "--ff-only", "stable"])
            #expect(try await world.deployer.deploy(world.app, cause: "push").release.sha == direct)
            #expect(await world.fetch() == "straight to stable")
        }
    }
}

/// What each host exports for the fleet (Prometheus through node_exporter's textfile collector).
@Suite struct FleetMetricsTests {
    typealias W = MemoryWorld

    @Test func whatAHostRunsAndRefusesIsInItsMetrics() async throws {
        let world = try MemoryWorld(apps: [("hello", RingTests.ring), ("other", "pin = \"\(W.sha(7).prefix(12))\"")])
        defer { world.tearDown() }
        for n in 1...3 { world.source.push(W.sha(n), app: "hello", branch: "main") }
        world.source.reset("hello", to: W.sha(1))
        _ = try await world.deployer.deploy(world.app(), cause: "push")
        world.source.reset("hello", to: W.sha(2))
        world.health.set(W.sha(2), .failsAfter(3))
        await #expect(throws: DeployError.self) { _ = try await world.deployer.deploy(world.app(), cause: "push") }
        world.source.push(W.sha(9), app: "hello")
        await #expect(throws: CommitRefusal.self) { _ = try await world.deployer.deploy(world.app(), cause: "push") }

        // The head the watcher last saw (it saves it at each poll).
        try world.runtime.store.saveHead(app: "hello", branch: "stable", sha: W.sha(9))
        let file = "\(world.root)/metrics.prom"
        let metrics = Metrics(path: file)
        await metrics.count("jailpilot_polls_total", [("app", "other"), ("result", "failed")])
        await metrics.set("jailpilot_poll_failures_consecutive", [("app", "other")], 7)
        await metrics.describeReleases(world.runtime.config.apps, store: world.runtime.store, host: "web-1")
        await metrics.flush()
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let sha1 = W.sha(1)
        #expect(
            text.contains("jailpilot_live_info{app=\"hello\",sha=\"\(sha1)\",branch=\"stable\",promoted_from=\"main\"} 1"),
            "\(text)")
        #expect(text.contains("jailpilot_live_since_seconds{app=\"hello\",sha=\"\(sha1)\"} "))
        #expect(text.contains("jailpilot_probation{app=\"hello\"} 0"))
        #expect(text.contains("jailpilot_reverts{app=\"hello\",sha=\"\(W.sha(2))\"} 1"), "the flip-back of 2")
        #expect(
            text.contains("jailpilot_quarantined_info{app=\"hello\",sha=\"\(W.sha(9))\",reason=\"not promoted\"} "), "\(text)")
        #expect(text.contains("jailpilot_quarantined_info{app=\"hello\",sha=\"\(W.sha(2))\",reason=\"probation\"} "), "\(text)")
        #expect(text.contains("jailpilot_pin_info{app=\"other\",sha=\"\(W.sha(7).prefix(12))\"} 1"))
        #expect(text.contains("jailpilot_host_info{host=\"web-1\"} 1"))
        #expect(
            text.contains("jailpilot_head_info{app=\"hello\",sha=\"\(W.sha(9))\",branch=\"stable\",promoted_from=\"main\"} 1"),
            "behind it: the alert's input")

        // A hold (what a rollback places); an app gone from agent.conf leaves no series behind.
        try world.runtime.store.hold(app: "hello", sha: W.sha(1))
        await metrics.describeReleases([world.app()], store: world.runtime.store, host: "web-1")
        await metrics.flush()
        let after = try String(contentsOfFile: file, encoding: .utf8)
        #expect(after.contains("jailpilot_hold_info{app=\"hello\""), "\(after)")
        #expect(!after.contains("app=\"other\""), "its failing polls too: \(after)")
    }

    /// Each family's text is kept between writes until one of its series changes: every write
    /// must still show every change, each family once, its series together.
    @Test func everyWriteShowsEveryChangeWithEachFamilyOnce() async throws {
        let scratch = try Scratch("metrics")
        let file = "\(scratch.path)/jailpilot.prom"
        let metrics = Metrics(path: file)
        func written() throws -> [String] {
            try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init)
        }
        for round in 1...3 {
            for app in ["b", "a"] { await metrics.count("jailpilot_polls_total", [("app", app), ("result", "ok")]) }
            await metrics.set("jailpilot_up", [], 1)
            await metrics.set("jailpilot_poll_failures_consecutive", [("app", "a")], round == 3 ? 4 : 0)
            await metrics.flush()
            let lines = try written()
            #expect(lines.contains("jailpilot_polls_total{app=\"a\",result=\"ok\"} \(round)"), "\(lines)")
            #expect(lines.contains("jailpilot_polls_total{app=\"b\",result=\"ok\"} \(round)"), "\(lines)")
            #expect(lines.contains("jailpilot_poll_failures_consecutive{app=\"a\"} \(round == 3 ? 4 : 0)"), "\(lines)")
            let families = lines.filter { !$0.hasPrefix("#") }.map { String($0.prefix { $0 != "{" && $0 != " " }) }
            #expect(families == families.sorted(), "each family's series together: \(lines)")
            let types = lines.filter { $0.hasPrefix("# TYPE ") }
            #expect(types.count == Set(families).count, "one TYPE per family: \(lines)")
        }
        if have("promtool") {
            let check = try await HostProcessRunner().run(
                Command("/bin/sh", ["-c", "promtool check metrics < \"$1\"", "check", file]), timeout: .seconds(30))
            #expect(check.status == 0, "\(check.stdoutText)\(check.stderrText)")
        }
    }
}

/// The mirror's copy of a ring's ref, fetched with the branch (libgit2, a real remote).
@Suite struct MirrorRingTests {
    @Test func theRingsRefComesWithTheFetchAndGoesWhenTheRemoteDropsIt() async throws {
        let repo = try await GitFixture()
        let one = try await repo.commit(["a": "1"])
        try await repo.git(["branch", "stable", one])
        let two = try await repo.commit(["a": "2"])
        let scratch = try Scratch("mirror-ring")
        let mirror = Mirror(path: "\(scratch.path)/hello.git")
        let access = RemoteAccess(url: repo.fileURL)
        let stats = try await mirror.fetch(access, branch: "stable", also: "main")
        #expect(stats.head == one)
        #expect(await mirror.head(of: "main") == two, "fetched with the branch")
        #expect(try await mirror.descends(two, from: one))
        // main is deleted on the remote: the mirror's copy goes with the next fetch.
        try await repo.git(["checkout", "-q", "stable"])
        try await repo.git(["branch", "-D", "main"])
        _ = try await mirror.fetch(access, branch: "stable", also: "main")
        #expect(await mirror.head(of: "main") == nil, "a ring branch the remote dropped does not linger")
        #expect(await mirror.head(of: "stable") == one)
    }

    @Test func aPushFastForwardsTheRingAndRefusesAnythingElse() async throws {
        let repo = try await GitFixture()
        let one = try await repo.commit(["a": "1"])
        let two = try await repo.commit(["a": "2"])
        try await repo.git(["branch", "stable", one])
        let scratch = try Scratch("mirror-push")
        let remote = "\(scratch.path)/remote.git"
        try await repo.git(["clone", "-q", "--bare", repo.work, remote], in: nil)
        let mirror = Mirror(path: "\(scratch.path)/cache.git")
        let access = RemoteAccess(url: "file://\(remote)")
        _ = try await mirror.fetch(access, branch: "main", also: "stable")
        try await mirror.push(two, to: "stable", access: access)
        #expect(try await repo.git(["--git-dir", remote, "rev-parse", "stable"], in: nil).hasPrefix(two))
        // Back to one would not be a fast-forward: refused, the remote unchanged.
        let refused = await #expect(throws: PushError.self) { try await mirror.push(one, to: "stable", access: access) }
        #expect(refused?.message.contains("not a fast-forward") == true, "\(String(describing: refused))")
        #expect(try await repo.git(["--git-dir", remote, "rev-parse", "stable"], in: nil).hasPrefix(two))
        let refs = try await repo.git(["--git-dir", "\(scratch.path)/cache.git", "for-each-ref", "refs/jailpilot"], in: nil)
        #expect(refs.isEmpty, "no private ref left behind: \(refs)")
    }
}
