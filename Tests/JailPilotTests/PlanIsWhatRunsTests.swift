import Foundation
import JailPilot
import Testing

/// What `jailpilot plan` prints is what runs: the steps the executor and the deployer recorded
/// during real deploys, a rollback, a retire and a removal equal the plan made just before
/// each, line for line, on both drivers (the FreeBSD one on its stand-in).
@Suite(.serialized) struct PlanIsWhatRunsTests {
    /// The plan of the next deploy of `app` at `sha`, made as `jailpilot plan` makes it.
    static func planOfNextDeploy(_ deployer: Deployer, app: AppConfig, sha: String) async throws -> [HostStep] {
        let runtime = deployer.runtime
        // The deploy below asks for no commit: it takes the branch head, and raises the mark.
        let spec = try await deployer.deploySpec(app, commit: sha, followsBranch: true)
        _ = runtime
        return try await deployer.plan(.deploy, app: app, spec: spec, mark: spec.mark?.generation ?? 0)
    }

    /// Fails with the first line that differs, and both lists in full. A data snapshot's name
    /// holds the second it is taken, which a plan made before the build cannot know: that part
    /// of the name is left out of the comparison.
    static func expectSame(_ ran: [HostStep], _ printed: [HostStep], _ what: String) {
        let time = /([0-9a-f]{12})-[0-9]{8}T[0-9]{6}Z/
        func lines(_ steps: [HostStep]) -> [Substring] {
            ReleasePlan.render(steps).replacing(time) { "\($0.1)-<time of the snapshot>" }
                .split(separator: "\n", omittingEmptySubsequences: false)
        }
        let a = lines(ran)
        let b = lines(printed)
        guard a != b else { return }
        let first = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
        Issue.record(
            """
            \(what): the deploy ran other steps than its plan printed; first difference at line \(first + 1):
              ran:     \(first < a.count ? a[first] : "<end>")
              printed: \(first < b.count ? b[first] : "<end>")
            --- ran ---
            \(a.joined(separator: "\n"))
            --- printed ---
            \(b.joined(separator: "\n"))
            """)
    }

    /// The first deploy, one that replaces it, and one whose retire destroys the first: each
    /// compared with its plan. Returns the last plan, as text.
    static func threeDeploys(_ deployer: Deployer, _ recorder: StepRecorder, repo: GitFixture, app: AppConfig) async throws
        -> String
    {
        var last = ""
        for greeting in ["one", "two", "three"] {
            // The prober answers `hello migrate` as a release step; hello would just serve.
            let sha = try await (app.release.isEmpty ? repo.commitHello(greeting) : repo.commitProber(greeting))
            let printed = try await planOfNextDeploy(deployer, app: app, sha: sha)
            _ = recorder.take()
            _ = try await deployer.deploy(app)
            expectSame(recorder.take(), printed, "deploy \(greeting)")
            last = ReleasePlan.render(printed)
        }
        return last
    }

    /// After `threeDeploys` (keep = 1: the second commit kept, stopped): a rollback to it, the
    /// retire of the release it replaced, and the app's removal, each compared with its plan.
    static func rollbackRetireRemove(_ deployer: Deployer, _ recorder: StepRecorder, app: AppConfig) async throws {
        let store = deployer.runtime.store
        func spec(_ release: Release?) throws -> JailSpec {
            JailSpec(release: try #require(release), app: app, layout: deployer.runtime.layout)
        }
        let releases = try store.releases(app: app.name).filter { $0.state != .destroyed }
        let live = try spec(try store.live(app: app.name))
        let kept = try spec(releases.first { $0.name != live.name })
        var printed = try await deployer.plan(.rollback, app: app, spec: kept)
        _ = recorder.take()
        _ = try await deployer.rollback(app, to: String(kept.sha.prefix(12)))
        expectSame(recorder.take(), printed, "rollback to the kept release")
        #expect(ReleasePlan.render(printed).contains("health:"), "a stopped release is started and gated")

        printed = try await deployer.plan(.retire, app: app, spec: live)
        _ = recorder.take()
        try await deployer.retireDrained(app)
        expectSame(recorder.take(), printed, "retire")

        let nowLive = try spec(try store.live(app: app.name))
        printed = try await deployer.plan(.remove, app: app, spec: nowLive)
        _ = recorder.take()
        _ = try await deployer.remove(app)
        expectSame(recorder.take(), printed, "remove")
        #expect(try store.live(app: app.name) == nil)
    }

    /// An app without data, and one with data and a release step (its volume made by the first
    /// deploy only, a snapshot before each, the step in the new jail).
    static let settings = ["keep = 1", "keep = 1\ndata = \"/var/db/hello\"\nrelease = [\"/usr/local/bin/hello\", \"migrate\"]"]

    @Test(.enabled(if: canStandIn, "needs root, python3, go and setpriv"), arguments: settings)
    func aFreeBSDDeployRunsExactlyItsPlan(settings: String) async throws {
        try await FreeBSDWorld.with(appExtra: settings) { world in
            let recorder = StepRecorder()
            var host = try world.host
            host.recorder = recorder
            var deployer = Deployer(runtime: world.runtime, host: host, router: NoProxy())
            deployer.recorder = recorder
            let text = try await Self.threeDeploys(deployer, recorder, repo: world.repo, app: world.app)
            #expect(text.contains("pfctl -a jailpilot/jails -f"), "the policy load is in the plan")
            #expect(text.contains("zfs destroy -r"), "so is the retention's destroy")
            try await Self.rollbackRetireRemove(deployer, recorder, app: world.app)
        }
    }

    @Test(.enabled(if: canDeploy, "needs root, caddy, go, btrfs-progs and iproute2"), arguments: settings)
    func aLinuxDeployRunsExactlyItsPlan(settings: String) async throws {
        try await E2EWorld.with(appExtra: settings, probation: "300ms") { world in
            let recorder = StepRecorder()
            var host = try #require(try world.runtime.jailHost() as? LinuxJails)
            host.recorder = recorder
            var deployer = Deployer(runtime: world.runtime, host: host, router: world.runtime.router())
            deployer.recorder = recorder
            let text = try await Self.threeDeploys(deployer, recorder, repo: world.repo, app: world.app)
            #expect(text.contains("nft -f"), "the policy load is in the plan")
            #expect(text.contains("kill -TERM the children of"), "the stop's signal-and-wait is a step")
            #expect(text.contains("btrfs subvolume delete"), "the retention's destroy is in the plan")
            try await Self.rollbackRetireRemove(deployer, recorder, app: world.app)
        }
    }
}
