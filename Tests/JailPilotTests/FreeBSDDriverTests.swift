import Foundation
import JailPilot
import Testing

/// The FreeBSD driver's own code run for real against the FreeBSD stand-in (root, python3, go):
/// deploy, rollback, retire, destroy and recovery through the real Deployer and agent, and the
/// failures FreeBSD reports (bad jail.conf, address in use, busy dataset, a dying service).
@Suite(.serialized, .enabled(if: canStandIn, "needs root, python3, go and setpriv"))
struct FreeBSDDriverTests {
    @Test func deployRollbackAndRemoveLeaveRcDJailAndTheOperatorsJailListAlone() async throws {
        try await FreeBSDWorld.with { world in
            let v1 = try await world.repo.commitHello("one")
            let first = try await world.deployer.deploy(world.app).release
            #expect(await world.fetch(first) == "one")
            #expect(world.standIn.running(first.name) != nil)
            #expect(world.bootVisible() == [], "rc.d/jail never sees a release")

            _ = try await world.repo.commitHello("two")
            let second = try await world.deployer.deploy(world.app).release
            #expect(await world.fetch(second) == "two")
            #expect(world.standIn.running(first.name) == nil, "the old release is retired (stopped)")
            #expect(world.standIn.hasDataset(first.name), "and kept for rollback")
            #expect(world.bootVisible() == [], "rc.d/jail never sees a release")

            let back = try await world.deployer.rollback(world.app, to: v1).release
            #expect(back.name == first.name)
            #expect(await world.fetch(back) == "one")
            #expect(world.bootVisible() == [], "rc.d/jail never sees a release")

            _ = try await world.deployer.remove(world.app)
            for name in [first.name, second.name] {
                #expect(world.standIn.running(name) == nil)
                #expect(!world.standIn.hasDataset(name))
                #expect(
                    !FileManager.default.fileExists(atPath: "\(world.runtime.config.agent.stateDir)/jail.conf.d/\(name).conf"))
                #expect(!FileManager.default.fileExists(atPath: "\(world.standIn.root)/var/log/jail_console_\(name).log"))
            }
            #expect(world.bootVisible() == [], "rc.d/jail never sees a release")
        }
    }

    /// zfs(8) user properties carry the commit mark beside the owner; `zfs list -o` reads both.
    @Test func theCommitMarkIsAUserPropertyOnEachReleaseAndComesBackFromTheHost() async throws {
        try await FreeBSDWorld.with { world in
            let v1 = try await world.repo.commitHello("one")
            // The world's app listens on a port of its own, part of each release's name (#33).
            let first = try await world.deployer.deploy(world.app, sha: v1, cause: "push").release
            let v2 = try await world.repo.commitHello("two")
            let second = try await world.deployer.deploy(world.app, sha: v2, cause: "push").release
            #expect(
                world.standIn.calls.contains { $0.contains("zfs clone") && $0.contains("jailpilot:mark=\(v2)/2") },
                "\(world.standIn.calls.filter { $0.contains("zfs clone") })")
            let marks = await (try world.host).ownedJails().map { "\($0.name) \($0.mark?.text ?? "-")" }
            #expect(marks.sorted() == [first.name + " \(v1)/1", second.name + " \(v2)/2"].sorted())
            #expect(try world.runtime.store.mark(app: "hello") == CommitMark(sha: v2, generation: 2))
        }
    }

    @Test func anAppThatExitsAtOnceFailsInSecondsNotAtTheHealthDeadline() async throws {
        try await FreeBSDWorld.with { world in
            let live = try await world.deployed("steady")
            let crash = try await world.repo.commit(
                [
                    "main.go":
                        "package main\n\nimport (\"fmt\"; \"os\")\n\nfunc main() { fmt.Println(\"boom: no database\"); os.Exit(3) }\n"
                ],
                message: "crash")
            let started = ContinuousClock.now
            let error = await #expect(throws: DeployError.self) { try await world.deployer.deploy(world.app, sha: crash) }
            let took = ContinuousClock.now - started
            #expect(took < .seconds(12), "the health deadline is 20 s; it took \(took)")
            #expect("\(error.map { "\($0)" } ?? "")".contains("boom: no database"), "\(String(describing: error))")
            #expect(try world.runtime.store.live(app: "hello")?.sha == live.sha)
            #expect(await world.fetch(live) == "steady")
            #expect(world.bootVisible() == [], "rc.d/jail never sees a release")
        }
    }

    @Test func jailFailuresAreErrorsWithJailsOwnMessage() async throws {
        try await FreeBSDWorld.with { world in
            let live = try await world.deployed("x")
            let host = try world.host
            let artifact = world.runtime.layout.artifact(world.app, live.sha)
            // Another release given the live one's address: jail(8) refuses, and the live one is untouched.
            let twin = JailSpec(
                app: world.app, sha: String(repeating: "ab", count: 20), address: live.address!, artifact: artifact)
            try await host.provision(twin)
            let clash = await #expect(throws: HostStepError.self) { try await host.start(twin) }
            #expect(clash?.description.contains("Address already in use") == true, "\(String(describing: clash))")
            #expect(await world.fetch(live) == "x")
            try await host.destroy(twin)
            #expect(!world.standIn.hasDataset(twin.name))
        }
    }

    @Test func aMissingTemplateFailsTheDeployClearlyWithoutQuarantiningTheCommit() async throws {
        try await FreeBSDWorld.with { world in
            let v1 = try await world.repo.commitHello("one")
            world.standIn.lock.withLock { world.standIn.snapshots["zroot/jails/templates/15.1-RELEASE@base"] = nil }
            let error = await #expect(throws: DeployError.self) { try await world.deployer.deploy(world.app) }
            let text = error.map { "\($0)" } ?? ""
            #expect(text.contains("cannot open 'zroot/jails/templates/15.1-RELEASE@base': dataset does not exist"), "\(text)")
            #expect(
                try world.runtime.store.quarantineReason(app: "hello", sha: v1) == nil, "a host problem is not the commit's fault"
            )
            #expect(!world.standIn.hasDataset(ReleaseName(app: "hello", sha: v1).text))
            world.standIn.snapshot("zroot/jails/templates/15.1-RELEASE", "base")
            #expect(
                await world.fetch(try await world.deployer.deploy(world.app).release) == "one",
                "the same commit deploys once the host is fixed")
        }
    }

    /// A jail whose connections sit in TIME_WAIT stays dying after `jail -r` and holds its clone:
    /// 3 s here, longer than the old 8 destroy attempts lasted at this world's 20 ms first pause
    /// (20 + 40 + 80 + 160 + 320 + 640 + 1280 ms = 2.54 s). The destroy waits until `jls -d` no
    /// longer lists the jail, then destroys the clone once, with its own snapshots.
    @Test func destroyWaitsOutADyingJailAndTakesTheClonesSnapshots() async throws {
        try await FreeBSDWorld.with { world in
            let live = try await world.deployed("x")
            let host = try world.host
            let spec = world.spec(live)
            world.standIn.snapshot("zroot/jails/containers/\(live.name)", "auto-2026-11-28")
            world.standIn.dyingFor = .seconds(3)
            defer { world.standIn.dyingFor = .zero }
            // From before the stop: the jail dies for 3 s from within it, so a destroy that waited
            // it out returns 3 s after this at the earliest, however long the checks below take.
            let started = ContinuousClock.now
            try await host.stop(spec)
            let removed = try await world.standIn.run(Command("jls", ["-j", live.name, "jid"]))
            #expect(!removed.succeeded && removed.stderrText.contains("jail \"\(live.name)\" is dying"))
            #expect(try await world.standIn.run(Command("jls", ["-d", "-j", live.name, "jid"])).succeeded)
            try await host.destroy(spec)
            #expect(ContinuousClock.now - started >= .seconds(3), "the destroy waited for the jail to be gone")
            #expect(!world.standIn.hasDataset(live.name))
            let calls = world.standIn.lock.withLock { world.standIn.calls }
            let attempts = calls.filter { $0.hasPrefix("zfs destroy") && $0.contains("/containers/") }
            #expect(attempts.count == 1, "destroyed once the jail was gone, never while busy: \(attempts)")
            #expect(calls.contains("jls -d -j \(live.name) jid"))
        }
    }

    /// A jail still dying when the wait's budget runs out: an error naming the jail, how long it
    /// waited and what to do; the clone is kept, and the destroy succeeds once the jail is gone.
    /// The budget is 90 s, above TIME_WAIT's 60 s; here the destroy's own steps run with 300 ms.
    @Test func aJailStillDyingAfterTheBudgetIsAClearErrorAndTheDestroyCanBeRunAgain() async throws {
        try await FreeBSDWorld.with { world in
            let live = try await world.deployed("x")
            let host = try world.host
            let spec = world.spec(live)
            world.standIn.dyingFor = .seconds(600)
            try await host.stop(spec)
            var budgets: [Duration] = []
            let steps = await host.steps(.destroy, spec).map { step -> HostStep in
                guard case .waitWhile(let command, let budget, let reason, let fix) = step else { return step }
                budgets.append(budget)
                return .waitWhile(command, budget: .milliseconds(300), reason: reason, fix: fix)
            }
            #expect(budgets == [FreeBSDJails.dyingBudget] && FreeBSDJails.dyingBudget > .seconds(60))
            let error = await #expect(throws: HostStepError.self) {
                try await PlanExecutor(runner: world.standIn, retryPause: .milliseconds(20)).execute(steps)
            }
            let text = error.map { "\($0)" } ?? ""
            #expect(text.contains("jail \(live.name) stays dying"), "\(text)")
            #expect(text.contains("still succeeding after"), "\(text)")
            #expect(text.contains("jls -d -j \(live.name)"), "what to look at: \(text)")
            #expect(world.standIn.hasDataset(live.name))
            let destroys = world.standIn.lock.withLock { world.standIn.calls }.filter {
                $0.hasPrefix("zfs destroy") && $0.contains("/containers/")
            }
            #expect(destroys.isEmpty, "no destroy while the jail holds its clone: \(destroys)")
            world.standIn.lock.withLock {
                world.standIn.dyingFor = .zero
                world.standIn.dying = [:]
            }
            try await host.destroy(spec)
            #expect(!world.standIn.hasDataset(live.name))
        }
    }

    /// A host upgraded from a version that kept jail.conf files in /etc/jail.conf.d and a boot
    /// list in /etc/rc.conf.d/jail (which stopped an operator's jail_list-less jails from booting):
    /// after a reboot the agent moves both out of rc.d/jail's way and starts the live release.
    @Test func theAgentBringsTheLiveReleaseBackAfterAHostRebootAndMovesWhatEarlierVersionsLeft() async throws {
        try await FreeBSDWorld.with { world in
            let live = try await world.deployed("survives")
            let conf = "\(world.runtime.config.agent.stateDir)/jail.conf.d/\(live.name).conf"
            let legacy = "\(world.standIn.root)/etc/jail.conf.d/\(live.name).conf"
            _ = try await world.standIn.run(Command("jail", ["-f", conf, "-r", live.name]))
            #expect(rename(conf, legacy) == 0)
            try FileIO.makeDirectories("\(world.standIn.root)/etc/rc.conf.d/jail")
            let owner = try OwnerID.load(stateDir: world.runtime.config.agent.stateDir)
            try FileIO.replace(
                "\(world.standIn.root)/etc/rc.conf.d/jail/jailpilot_\(owner.id)",
                text: "jail_list=\"${jail_list} gone_0123456789ab\"\n")
            #expect(await world.fetch(live) == "<no response>")

            let agent = try Agent(configPath: world.configPath, runner: world.standIn, freebsdPaths: world.standIn.paths)
            let running = Task { await agent.run() }
            let back = await eventually(.seconds(30)) { await world.fetch(live) == "survives" }
            await agent.stop()
            await running.value
            #expect(back)
            #expect(world.bootVisible() == [], "rc.d/jail never sees a release")
            #expect(FileManager.default.fileExists(atPath: conf) && !FileManager.default.fileExists(atPath: legacy))
        }
    }

    @Test func aServiceThatDiesIsReportedFromDaemonsPidFiles() async throws {
        try await FreeBSDWorld.with { world in
            let live = try await world.deployed("x")
            let host = try world.host
            let spec = world.spec(live)
            #expect(await host.exitReport(spec) == nil, "a healthy service has nothing to report")
            let pidFile = "\(world.standIn.mountpoint)/containers/\(live.name)/var/run/hello.pid"
            let pid = try #require(pid_t(try String(contentsOfFile: pidFile, encoding: .utf8).trimmedWhitespace))
            kill(pid, SIGKILL)
            let noticed = await eventually(.seconds(10)) { await host.exitReport(spec) != nil }
            #expect(noticed)
            // daemon(8) restarts it a second later; the restart is still reported.
            try await Task.sleep(for: .seconds(1.5))
            let report = await host.exitReport(spec)
            #expect(report?.contains("restarted") == true, "\(String(describing: report))")
        }
    }

    @Test func aServiceThatNeverStartsIsReportedOnceTheJailsRcHasFinished() async throws {
        try await FreeBSDWorld.with { world in
            let live = try await world.deployed("x")
            let host = try world.host
            let spec = JailSpec(
                app: world.app, sha: String(repeating: "cd", count: 20), address: "127.77.0.250",
                artifact: world.runtime.layout.artifact(world.app, live.sha))
            try await host.provision(spec)
            // Without its rc.conf.d knob, /etc/rc declines to start the service (quietly, at boot).
            unlink("\(world.standIn.mountpoint)/containers/\(spec.name)/etc/rc.conf.d/hello")
            try await host.start(spec)
            let report = await eventually(.seconds(8)) { await host.exitReport(spec) != nil }
            #expect(report, "a jail whose service never started must not wait for the health deadline")
            #expect(await host.exitReport(spec)?.hasPrefix("the service did not start") == true)
            try await host.stop(spec)
            try await host.destroy(spec)
        }
    }
}
