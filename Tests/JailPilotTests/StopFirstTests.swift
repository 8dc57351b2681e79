import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// `strategy = "stop-first"` (#33): an app whose data allows one process at a time (BoltDB,
/// SQLite with an exclusive lock, a flock) never passed the health gate while the old release
/// held its data. Stop-first swaps it, and requests that arrive in the gap wait in Caddy.
@Suite struct StopFirstTests {
    static let lines = "data = \"/var/db/hello\"\nstrategy = \"stop-first\""

    @Test func strategyIsReadAndAnUnknownOneIsRefused() throws {
        let state = try Scratch("strategy")
        let conf = TestAgentConf.hello(stateDir: state.path, repo: "https://e.example/h.git", lines: "strategy = \"stop-first\"")
        #expect(try conf.config().app("hello")?.strategy == .stopFirst)
        let bad = TestAgentConf.hello(stateDir: state.path, repo: "https://e.example/h.git", lines: "strategy = \"blue-green\"")
        let refused = #expect(throws: ConfigError.self) { try bad.config() }
        #expect(
            "\(refused.map { "\($0)" } ?? "")".contains(
                "apps.hello.strategy: 'blue-green' is not a strategy; write \"start-first\" (the default) or \"stop-first\""))
    }

    /// The script `plan` prints is what the deployer runs: the old release out of the route and
    /// stopped before the new one starts, no probation, the old one retired after the flip.
    @Test func aStopFirstDeployRunsThePlanThatStopsTheLiveReleaseFirst() async throws {
        let world = try MemoryWorld(apps: [("hello", Self.lines)])
        defer { world.tearDown() }
        try await world.push(1)
        let deployer = world.deployer
        world.source.push(MemoryWorld.sha(2))
        let spec = try await deployer.deploySpec(world.app(), commit: MemoryWorld.sha(2), followsBranch: true)
        let printed = try await deployer.plan(.deploy, app: world.app(), spec: spec)
        let text = ReleasePlan.render(printed)
        _ = world.recorder.take()
        _ = try await deployer.deploy(world.app(), sha: MemoryWorld.sha(2))
        PlanIsWhatRunsTests.expectSame(world.recorder.take(), printed, "stop-first deploy")
        let swap = try #require(text.range(of: "stop-first: hello_\(MemoryWorld.sha(1).prefix(12)) out of the route"))
        let start = try #require(text.range(of: "→ starting"))
        #expect(swap.lowerBound < start.lowerBound && !text.contains("probation:"), "\(text)")
        #expect(try world.runtime.store.live(app: "hello")?.sha == MemoryWorld.sha(2))
        #expect(try world.runtime.store.releases(app: "hello").first { $0.sha == MemoryWorld.sha(1) }?.state == .retired)
    }

    @Test(.enabled(if: canDeploy, "needs root, caddy, go, btrfs-progs and iproute2"))
    func aSingleWriterAppSwapsStopFirstWithoutAFailedRequestUnderLoad() async throws {
        try await E2EWorld.with(appExtra: Self.lines) { world in
            try await world.repo.commit(GoFixture.flockService("one"), message: "one")
            _ = try await world.deployer.deploy(world.app)
            #expect(await world.fetch() == "one")

            let load = LoadRun(front: world.frontPort, host: "hello.localhost")
            try await Task.sleep(for: .milliseconds(500))
            let sha = try await world.repo.commit(GoFixture.flockService("two"), message: "two")
            let outcome = try await world.deployer.deploy(world.app)
            try await Task.sleep(for: .milliseconds(500))
            let result = await load.stop()
            #expect(outcome.release.sha == sha && outcome.phases.map(\.0).contains("swap out"), "\(outcome.phases)")
            #expect(await world.fetch() == "two")
            #expect(result.failed.isEmpty, "\(result.failed) of \(result.total) requests failed")
            #expect(result.total > 20, "\(result.total) requests")
            print("stop-first swap under load: \(result.total) requests, slowest \(String(format: "%.2f", result.slowest)) s")

            // The same app start-first waits on the lock and never gets healthy.
            var conf = world.conf
            conf.apps[0].lines = "data = \"/var/db/hello\""
            conf.apps[0].healthDeadline = "4s"
            let runtime = try Runtime(config: try conf.parsed(file: "start-first.conf"), echo: false)
            try await world.repo.commit(GoFixture.flockService("three"), message: "three")
            let refused = await #expect(throws: DeployError.self) {
                try await runtime.deployer().deploy(try #require(runtime.config.app("hello")))
            }
            #expect("\(refused.map { "\($0)" } ?? "")".contains("not healthy within 4s"))
            #expect(await world.fetch() == "two", "the live release kept serving")
        }
    }

    @Test(.enabled(if: canDeploy, "needs root, caddy, go, btrfs-progs and iproute2"))
    func aStopFirstReleaseThatNeverGetsHealthyStartsTheOldOneAgain() async throws {
        try await E2EWorld.with(appExtra: Self.lines) { world in
            try await world.repo.commit(GoFixture.flockService("one"), message: "one")
            let first = try await world.deployer.deploy(world.app).release
            try await world.repo.commitHello("never healthy", upStatus: 500)
            await #expect(throws: DeployError.self) { try await world.deployer.deploy(world.app) }
            #expect(await world.fetch() == "one", "the old release serves again")
            let live = try #require(try world.runtime.store.live(app: "hello"))
            #expect(live.id == first.id && !live.isSwappedOut)
            #expect(RouteTable.load(stateDir: world.state.path).addresses["hello"] == first.address)
        }
    }
}

extension GoFixture {
    /// A service that holds an exclusive flock(2) on its data file for its whole life, as
    /// BoltDB does: a second process on the same data waits for the lock before it serves.
    static func flockService(_ greeting: String) -> [String: String] {
        [
            "go.mod": "module example.org/flocked\n\ngo 1.19\n",
            "main.go": """
            package main

            import (
            \t"fmt"
            \t"net/http"
            \t"os"
            \t"syscall"
            )

            func main() {
            \tf, err := os.OpenFile(os.Getenv("JAILPILOT_DATA")+"/app.db", os.O_RDWR|os.O_CREATE, 0o600)
            \tif err != nil {
            \t\tfmt.Fprintln(os.Stderr, err)
            \t\tos.Exit(1)
            \t}
            \tfmt.Println("waiting for the lock on app.db")
            \tif err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
            \t\tfmt.Fprintln(os.Stderr, err)
            \t\tos.Exit(1)
            \t}
            \tfmt.Println("holding app.db")
            \thttp.HandleFunc("/up", func(w http.ResponseWriter, r *http.Request) {})
            \thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "\(greeting)") })
            \tif err := http.ListenAndServe(os.Getenv("JAIL_IP")+":"+os.Getenv("PORT"), nil); err != nil {
            \t\tfmt.Fprintln(os.Stderr, err)
            \t\tos.Exit(1)
            \t}
            }

            """,
        ]
    }
}
