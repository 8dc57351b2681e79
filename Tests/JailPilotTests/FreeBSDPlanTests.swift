import Foundation
import JailPilot
import Testing

/// The FreeBSD driver, checked through its exact plans (FreeBSD cannot run here).
/// Golden files: Tests/JailPilotTests/Golden/; JAILPILOT_UPDATE_GOLDEN=1 rewrites them.
@Suite struct FreeBSDPlanTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden").path
    static let config = """
        [agent]
        platform = "freebsd"
        state_dir = "/var/db/jailpilot"
        [jails]
        dataset = "zroot/jails"
        mountpoint = "/usr/local/jails"
        template = "15.1-RELEASE"
        network = "172.16.0.0/12"
        drain = "10s"
        [apps.hello]
        repo = "https://example.org/me/hello.git"
        hostnames = ["hello.example.org"]
        """
    static let newSHA = "3f2c1e0a9b7d8e9f00112233445566778899aabb"
    static let oldSHA = "0123456789abcdef0123456789abcdef01234567"

    let config: AgentConfig
    let host: FreeBSDJails
    let app: AppConfig
    /// The host's /dev, with pf(4)'s device.
    let dev: Scratch

    init() throws {
        config = try ConfigLoader.parse(Self.config, file: "agent.conf")
        // A host in the state the plans expect: the replaced jail running, its clone there, pf loaded.
        dev = try Scratch("plan-dev")
        _ = try dev.write("pf", "")
        host = FreeBSDJails(
            settings: config.jails, runner: ExpectedHost(),
            owner: OwnerID(id: "0123456789abcdef", stateDir: config.agent.stateDir), paths: FreeBSDPaths(devDir: dev.path))
        app = try #require(config.app("hello"))
    }

    /// What the jails may reach with the new release: hello at .3 (the one the plan starts), api at .9.
    static let policy = JailNetworkPolicy(
        members: [.init(app: "api", address: "172.16.0.9", port: 9090), .init(app: "hello", address: "172.16.0.3", port: 8080)],
        reach: ["hello": [], "api": []])

    func spec(_ sha: String, _ address: String) -> JailSpec {
        JailSpec(app: app, sha: sha, address: address, artifact: "/var/db/jailpilot/artifacts/hello/\(sha)/hello")
    }

    /// The script of `action` as the deployer builds it from a store holding the replaced
    /// release (live) and an older kept one: a deploy's retention destroys the older one.
    static func script(_ action: ReleasePlan.Action, app: AppConfig, new: JailSpec, old: JailSpec, oldest: JailSpec)
        -> ReleaseScript
    {
        switch action {
        case .deploy:
            var steps: [ScriptStep] = [.routes, .create(new), .provision(new), .move(new, .provisioned)]
            if app.data != nil { steps.append(.data(new)) }
            steps += [.move(new, .starting), .start(new)]
            if !app.release.isEmpty { steps.append(.releaseStep(new)) }
            steps += [
                .health(new, passes: app.healthPasses), .move(new, .healthy), .flip(to: new, from: old, probation: true),
                .probation(new, previous: old), .retire(old), .move(old, .retired),
            ]
            let retention = steps.count
            steps += [
                .destroy(oldest), .move(oldest, .destroyed),
                .remove(path: "/var/db/jailpilot/artifacts/hello/\(Self.oldestSHA)"),
            ]
            return ReleaseScript(kind: .deploy, app: app, steps: steps, retentionFrom: retention, undo: .abandon(new))
        case .rollback:
            return ReleaseScript(
                kind: .activate, app: app,
                steps: [
                    .routes, .move(new, .starting), .start(new), .health(new, passes: ReleasePlan.keptPasses),
                    .flip(to: new, from: old, probation: false), .hold(new),
                ], undo: .backToKept(new), cause: "rollback")
        case .retire:
            return ReleaseScript(kind: .retire, app: app, steps: [.retire(new), .move(new, .retired)], retentionFrom: 2)
        case .destroy:
            return ReleaseScript(kind: .destroy, app: app, steps: [.destroy(new), .move(new, .destroyed)])
        case .remove:
            return ReleaseScript(
                kind: .remove, app: app, steps: [.destroy(new), .move(new, .destroyed), .destroy(old), .move(old, .destroyed)])
        }
    }

    /// The plan of `action`, rendered on the FreeBSD driver.
    func plan(_ action: ReleasePlan.Action) async -> String {
        let script = Self.script(
            action, app: app, new: spec(Self.newSHA, "172.16.0.3"), old: spec(Self.oldSHA, "172.16.0.2"),
            oldest: spec(Self.oldestSHA, "172.16.0.4"))
        return ReleasePlan.render(
            await ReleasePlan(
                host: host, app: app, stateDir: "/var/db/jailpilot",
                routes: RouteTable(addresses: ["api": "172.16.0.9", "hello": "172.16.0.2"]), policy: Self.policy
            ).render(script))
    }
    static let oldestSHA = "fedcba9876543210fedcba9876543210fedcba98"

    /// Compares with the golden file; a difference fails with a readable unified diff.
    func expectGolden(_ text: String, _ name: String) async throws {
        let path = "\(Self.golden)/\(name)"
        if ProcessInfo.processInfo.environment["JAILPILOT_UPDATE_GOLDEN"] == "1" {
            try FileIO.replace(path, text: text)
            return
        }
        let expected = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        guard text != expected else { return }
        let scratch = try Scratch("golden")
        let actual = try scratch.write(name, text)
        let diff = try await HostProcessRunner().run(Command("diff", ["-u", path, actual])).stdoutText
        Issue.record("plan differs from \(name) (JAILPILOT_UPDATE_GOLDEN=1 to accept):\n\(diff)")
    }

    @Test func deployPlan() async throws {
        let text = await plan(.deploy)
        try await expectGolden(text, "freebsd-deploy.txt")
        // Regression: the pf load before the start and the retention after the retire ran but
        // were in no plan.
        let load = try #require(text.range(of: "pfctl -a jailpilot/jails -f /etc/pf.jailpilot-jails.conf"))
        let start = try #require(
            text.range(of: "jail -f /var/db/jailpilot/jail.conf.d/hello_3f2c1e0a9b7d.conf -c hello_3f2c1e0a9b7d"))
        #expect(load.upperBound < start.lowerBound)
        #expect(text.contains("zfs destroy -r zroot/jails/containers/hello_fedcba987654"))
        #expect(text.hasSuffix("rm -rf /var/db/jailpilot/artifacts/hello/\(Self.oldestSHA)\n"))
    }

    /// An app with data and a release step: its dataset made if missing and nullfs-mounted by
    /// jail.conf, the snapshot before start, the release step through jexec; then what
    /// `rollback --with-data` runs on the dataset.
    @Test func dataAndReleaseStepPlan() async throws {
        let config = try ConfigLoader.parse(
            Self.config + "\ndata = \"/var/db/hello\"\nrelease = [\"/usr/local/bin/hello\", \"migrate\", \"--to\", \"latest\"]\n",
            file: "agent.conf")
        let app = try #require(config.app("hello"))
        func spec(_ sha: String, _ address: String) -> JailSpec {
            JailSpec(app: app, sha: sha, address: address, artifact: "/var/db/jailpilot/artifacts/hello/\(sha)/hello")
        }
        let at = Date(timeIntervalSince1970: 1_795_000_000)
        var script = Self.script(
            .deploy, app: app, new: spec(Self.newSHA, "172.16.0.3"), old: spec(Self.oldSHA, "172.16.0.2"),
            oldest: spec(Self.oldestSHA, "172.16.0.4"))
        script.steps = Array(script.steps[..<(script.retentionFrom ?? script.steps.count)])
        let deploy = await ReleasePlan(
            host: host, app: app, stateDir: "/var/db/jailpilot", routes: RouteTable(addresses: ["hello": "172.16.0.2"]),
            policy: Self.policy, at: at
        ).render(script)
        let restore = host.restorePlan(
            app: "hello", name: SnapshotName.make(sha: Self.oldSHA, at: at), newer: [SnapshotName.make(sha: Self.newSHA, at: at)])
        let text =
            ReleasePlan.render(deploy) + "# rollback --with-data, after every release of hello is stopped:\n"
            + ReleasePlan.render(restore)
        #expect(
            text.contains(
                "mount += \"/usr/local/jails/data/hello /usr/local/jails/containers/hello_3f2c1e0a9b7d/var/db/hello nullfs rw 0 0\";"
            ))
        #expect(text.contains("zfs snapshot zroot/jails/data/hello@3f2c1e0a9b7d-20261118T"))
        // Regression: the data volume is nobody's own group (65534, as daemon -u gives the app),
        // while the release step and the log used nogroup (65533 on FreeBSD, etc/group).
        #expect(text.contains("chown 65534:65534 /usr/local/jails/data/hello"))
        #expect(!text.contains("nogroup"), "one group for everything the app writes")
        #expect(text.contains("chroot -G nobody -g nobody -u nobody /"))
        try await expectGolden(text, "freebsd-data.txt")
    }
    @Test func rollbackToAStoppedReleasePlan() async throws {
        try await expectGolden(await plan(.rollback), "freebsd-rollback.txt")
    }
    @Test func retirePlan() async throws { try await expectGolden(await plan(.retire), "freebsd-retire.txt") }
    @Test func destroyPlan() async throws { try await expectGolden(await plan(.destroy), "freebsd-destroy.txt") }

    @Test func destroyNeverTouchesTheTemplate() async {
        let text = await plan(.destroy)
        #expect(text.contains("zfs destroy -r zroot/jails/containers/hello_3f2c1e0a9b7d"))
        #expect(!text.contains("@base"))
        #expect(!text.contains("destroy -R"), "-R would take dependent clones of other datasets with it")
        #expect(text.split(separator: "\n").filter { $0.hasPrefix("zfs destroy") }.count == 1)
    }

    @Test func networkPolicyPlan() async throws {
        let policy = JailNetworkPolicy(
            members: [
                .init(app: "hello", address: "172.16.0.3", port: 8080), .init(app: "api", address: "172.16.0.9", port: 9090),
            ],
            reach: ["hello": [.app("api"), .host(port: 5432)], "api": []])
        let pf = ReleasePlan.render(host.networkPolicyPlan(policy))
        try await expectGolden(pf, "freebsd-network.txt")
        // DNS from local_unbound on the gateway passes before the block that keeps jails off the host;
        // each jail's openings come before both, on its own epair (named after its address).
        let dns = try #require(pf.range(of: "from 172.16.0.0/12 to 172.16.0.1 port 53"))
        let block = try #require(pf.range(of: "block return in quick on jpjail inet from any to { (self), 172.16.0.0/12"))
        let opening = try #require(pf.range(of: "pass in quick on jpac100003a proto tcp from 172.16.0.3 to 172.16.0.9 port 9090"))
        #expect(opening.lowerBound < dns.lowerBound && dns.lowerBound < block.lowerBound)
        #expect(pf.contains("block drop in quick on jpac100003a inet from ! 172.16.0.3 to any"), "its own address only")
        #expect(!pf.contains(" lo0"), "jail traffic never crosses lo0")
        let linux = LinuxJails(settings: config.jails, runner: HostProcessRunner(), owner: host.owner)
        let rules = policy.nftables(bridge: "jp0", network: config.jails.network)
        #expect(rules.contains("iifname \"jp0\" ip saddr 172.16.0.3 tcp dport 5432 accept"))
        #expect(rules.contains("ip saddr 172.16.0.3 ip daddr 172.16.0.9 tcp dport 9090 accept"))
        #expect(rules.contains("ip saddr 172.16.0.0/12 ip daddr 172.16.0.0/12 drop"))
        // The bridge hook sees every bridge's frames: each rule is for jp0's ports only.
        let group = "meta iifgroup \(JailNetworkPolicy.portGroup(bridge: "jp0")) "
        let bridgeRules = rules.components(separatedBy: "table bridge").last!.split(separator: "\n").filter {
            $0.hasSuffix("accept") || $0.contains("accept  #") || $0.hasSuffix("drop")
        }
        #expect(bridgeRules.count == 3)
        #expect(bridgeRules.allSatisfy { $0.contains(group) }, "\(bridgeRules)")
        #expect(JailNetworkPolicy.portGroup(bridge: "jp0") != JailNetworkPolicy.portGroup(bridge: "jp1"))
        #expect(!rules.contains("ip saddr 172.16.0.9 ip daddr 172.16.0.3 tcp dport"), "api opened nothing")
        #expect(linux.networkPolicyPlan(policy).count == 2)
    }

    /// `network_mode = "alias"`: the seed's lo1 aliases, and no pf rule that could not hold.
    @Test func aliasModeIsTheSeedsLo1AndWritesNoIsolationRules() throws {
        let network = try #require(IPv4Network("172.16.0.0/12"))
        let lines = FreeBSDJailNetworkProbe.confLines(
            mode: .alias, interface: "lo1", network: network, address: "172.16.0.3", startsRC: true)
        #expect(lines == ["interface = \"lo1\";", "ip4.addr = \"172.16.0.3\";", "exec.start = \"/bin/sh /etc/rc\";"])
        let rules = Self.policy.pf(network: network, bridge: "lo1", mode: .alias)
        #expect(!rules.split(separator: "\n").contains { !$0.hasPrefix("#") }, "comments only: \(rules)")
        #expect(rules.contains("network_mode = \"alias\""))
        let refused = #expect(throws: ConfigError.self) {
            try ConfigLoader.parse(Self.config.replacing("[jails]\n", with: "[jails]\ninterface = \"lo1\"\n"), file: "agent.conf")
        }
        #expect("\(refused.map { "\($0)" } ?? "")".contains("network_mode = \"alias\""))
        #expect(FreeBSDJailNetworkProbe.epair("172.16.0.3") == "jpac100003")
        #expect(FreeBSDJailNetworkProbe.address("jpac100003a") == "172.16.0.3")
        #expect(FreeBSDJailNetworkProbe.address("jpzz100003a") == nil && FreeBSDJailNetworkProbe.address("epair0a") == nil)
    }

    @Test func theBuildRunsInAJailClonedFromTheBuildTemplate() async throws {
        let jail = FreeBSDBuildJail(
            account: BuildAccount(user: "jailpilot-build", uid: 1001, gid: 1001), settings: config.jails, template: "build",
            owner: host.owner, runner: HostProcessRunner(), confDir: "/var/db/jailpilot/staging")
        let builder = Builder(
            agent: config.agent, runner: HostProcessRunner(), store: try StateStore(stateDir: try Scratch("plan").path),
            log: EventLog(path: nil, echo: false, store: nil))
        let (command, scope) = builder.job(app, sha: Self.newSHA, id: "hello-3f2c1e0a9b7d-plan")
        let text = ReleasePlan.render(jail.plan(command, scope))
        try await expectGolden(text, "freebsd-build.txt")
        #expect(
            text.contains("exec.start += \"/sbin/ifconfig jpac1ffffeb inet 172.31.255.254/12 up\";"),
            "the last address of the network, reserved for builds, on the build jail's own epair")
        #expect(!text.contains("/usr/local/etc"), "nothing of the host's /usr/local (agent.conf, secrets) is mounted")
        var offline = scope
        offline.network = false
        let none: String? = nil
        let conf = ReleasePlan.render(jail.setupPlan(offline, address: none))
        #expect(conf.contains("    vnet;\n") && !conf.contains("vnet.interface") && !conf.contains("ip4.addr"))
        #expect(FreeBSDBuildJailProbe.fstab("/a b", "/j/a b") == "/a\\040b /j/a\\040b nullfs rw 0 0")
    }

    /// A release's `jail -r` runs exec.stop (its rc.d script waits up to `drain` for the service)
    /// and then waits up to stop.timeout (drain + 5 s) for what is left: the executor gives it at
    /// least that, or a long drain is cut short with the mounts, the address and exec.poststop left.
    @Test func jailRemoveIsGivenTheTimeItsDrainAndStopTimeoutTake() async throws {
        let config = try ConfigLoader.parse(
            Self.config.replacingOccurrences(of: "drain = \"10s\"", with: "drain = \"1h\""), file: "agent.conf")
        let runner = TimeLimitRecorder()
        let host = FreeBSDJails(
            settings: config.jails, runner: runner, owner: OwnerID(id: "0123456789abcdef", stateDir: config.agent.stateDir),
            paths: FreeBSDPaths(devDir: dev.path))
        let spec = JailSpec(
            app: try #require(config.app("hello")), sha: Self.newSHA, address: "172.16.0.3",
            artifact: "/var/db/jailpilot/artifacts/hello/\(Self.newSHA)/hello")
        var conf = ""
        for case .write(let path, let content, _) in host.plan(.provision, spec) + host.plan(.start, spec)
        where path.hasSuffix("/\(spec.name).conf") {
            conf = content
        }
        let stopTimeout = try #require(
            conf.split(separator: "\n").compactMap { line -> Int? in
                let words = line.split(separator: " ")
                return words.count == 3 && words[0] == "stop.timeout" ? Int(words[2].dropLast()) : nil
            }.first, "stop.timeout in \(conf)")
        #expect(stopTimeout >= 3605)
        for action in [JailAction.stop, .destroy] {
            try await PlanExecutor(runner: runner, retryPause: .milliseconds(1)).execute(host.plan(action, spec))
            let limit = try #require(runner.limits().first { $0.command.hasPrefix("jail -f") }?.limit)
            #expect(limit >= .seconds(stopTimeout + 3600), "\(action): jail -r may take \(limit)")
            let printed = ReleasePlan.render(host.plan(action, spec))
            #expect(printed.contains("-r \(spec.name)") && printed.contains("time limit"), "\(printed)")
        }
        #expect(!(await plan(.retire)).contains("time limit"), "a 10 s drain needs no more than the default")
    }

    @Test func limitsAreAQuotaAndRctlRulesOfTheJail() async {
        let text = await plan(.deploy)
        #expect(text.contains("-o quota=1073741824 zroot/jails/templates/15.1-RELEASE@base"), "set with the clone")
        #expect(
            text.contains(
                "exec.prestart += \"/usr/local/libexec/jailpilot/jail-limits add hello_3f2c1e0a9b7d memoryuse:sigkill=536870912 pcpu:deny=200\";"
            ))
        #expect(text.contains("exec.poststop += \"/usr/local/libexec/jailpilot/jail-limits remove hello_3f2c1e0a9b7d\";"))
        #expect(text.contains("write /usr/local/libexec/jailpilot/jail-limits mode 755"), "the helper is part of the plan")
    }

    /// rc.d/jail never sees a release: its jail.conf is in the state_dir, and no jail_list is
    /// written; the agent starts the live release at its own start, after the policy.
    @Test func bootStartsNothingOfOursThroughRcDJail() async {
        let text = await plan(.deploy)
        #expect(text.contains("write /var/db/jailpilot/jail.conf.d/hello_3f2c1e0a9b7d.conf mode 644"))
        #expect(!text.contains("jail_list") && !text.contains("/etc/jail.conf.d") && !text.contains("sysrc"))
    }

    @Test(.enabled(if: have("shellcheck"), "needs shellcheck"))
    func generatedRcScriptPassesShAndShellcheck() async throws {
        guard
            case .write(_, let script, _)? = host.plan(.provision, spec(Self.newSHA, "172.16.0.3")).first(where: {
                if case .write(let path, _, _) = $0 { return path.contains("/rc.d/") }
                return false
            })
        else {
            Issue.record("no rc script in the provision plan")
            return
        }
        let scratch = try Scratch("rc")
        let file = try scratch.write("hello", script)
        #expect(try await HostProcessRunner().run(Command("sh", ["-n", file])).succeeded)
        let lint = try await HostProcessRunner().run(Command("shellcheck", ["-s", "sh", file]))
        #expect(lint.succeeded, "\(lint.stdoutText)")
    }

    @Test func hostileNamesAreRefusedBeforeAnyPlan() {
        let hostile = ["a\"b", "a$b", "a;b", "a\nb", "../x", "a b", String(repeating: "a", count: 300), "A", "-x"]
        for name in hostile {
            let text = Self.config.replacingOccurrences(
                of: "[apps.hello]",
                with:
                    "[apps.\"\(name.replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\"", with: "\\\""))\"]")
            #expect(throws: ConfigError.self, "app name \(name.debugDescription)") {
                try ConfigLoader.parse(text, file: "agent.conf")
            }
        }
        var bad = spec(Self.newSHA, "172.16.0.3")
        bad.service = "hello;rm -rf /"
        #expect(throws: InvalidSpecError.self) { try bad.validate() }
        bad = spec(Self.newSHA, "172.16.0.3\"; allow.mount; \"")
        #expect(throws: InvalidSpecError.self) { try bad.validate() }
        bad = spec("$(reboot)", "172.16.0.3")
        #expect(throws: InvalidSpecError.self) { try bad.validate() }
    }

    @Test func jailConfValuesCannotBreakOut() {
        #expect(FreeBSDFilesProbe.quote("a\"; allow.mount; \"$x\\") == "\"a\\\"; allow.mount; \\\"\\$x\\\\\"")
    }
}

/// A FreeBSD host where every command succeeds at once and no jail is left dying; it notes the
/// time limit each command was run with.
final class TimeLimitRecorder: ProcessRunning, @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [(command: String, limit: Duration?)] = []

    func run(_ command: Command, stdout: OutputTarget, stderr: OutputTarget, timeout: Duration?) async throws -> ProcessResult {
        lock.withLock { seen.append((command.description, timeout)) }
        return ProcessResult(status: command.executable == "jls" ? 1 : 0)
    }

    /// Every command run since the last call, with its limit, and forgets them.
    func limits() -> [(command: String, limit: Duration?)] {
        lock.withLock {
            defer { seen = [] }
            return seen
        }
    }
}

/// A FreeBSD host that answers every query yes (the jail runs, its clone exists): plans as the
/// golden files expect them. Nothing is run.
struct ExpectedHost: ProcessRunning {
    func run(_ command: Command, stdout: OutputTarget, stderr: OutputTarget, timeout: Duration?) async throws -> ProcessResult {
        ProcessResult(status: 0)
    }
}
