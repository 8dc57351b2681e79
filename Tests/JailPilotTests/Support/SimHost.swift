import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// One more host on this machine, for the fleet tests: the real `jailpilot run` in a network
/// namespace of its own (its bridge, jail network, nftables, Caddy and resolver ports), a mount
/// namespace of its own (its btrfs filesystem and its `/run/netns`, so two hosts may both run
/// `hello_<sha>`) and its own host name; its own state_dir, metrics file and agent.conf.
///
/// Made by the test and destroyed after it; traffic stays inside the namespaces it creates.
/// Inside `ip netns exec`, /sys has no cgroup mounts (ip-netns(8)), so this host's releases run
/// without their memory and CPU limits (the driver notes it); the single-host tests cover those.
final class SimHost: @unchecked Sendable {
    static let root = "/var/lib/jailpilot/test-sim"
    /// Ports inside the host's own namespace (every host has the same ones, as real hosts would).
    static let (adminPort, frontPort, resolverPort, probePort) = (2019, 8080, 5353, 8099)

    let name: String
    let namespace: String
    let state: Scratch
    let metricsFile: String
    private var caddy: BackgroundProcess?
    private var agent: BackgroundProcess?

    var configPath: String { "\(state.path)/agent.conf" }
    var log: String { (try? String(contentsOfFile: "\(state.path)/agent.log", encoding: .utf8)) ?? "" }

    /// Makes host `name` (number `index`, which picks its namespace and jail network), writing
    /// its metrics under `metricsDir/name/`, and starts its Caddy and its agent tracking `app`.
    init(_ name: String, index: Int, remote: String, app: String, metricsDir: String) async throws {
        self.name = name
        namespace = "jpsim\(index)"
        state = try Scratch("sim-\(name)")
        metricsFile = "\(metricsDir)/\(name)/jailpilot.prom"
        try FileIO.makeDirectories("\(metricsDir)/\(name)")
        try await Self.remove(name: name, namespace: namespace)
        try await sh(["ip", "netns", "add", namespace])
        try await sh(["ip", "-n", namespace, "link", "set", "lo", "up"])

        let caddyDir = "\(state.path)/caddy"
        try FileIO.makeDirectories(caddyDir)
        try FileIO.replace("\(caddyDir)/caddy.json", text: "{\"admin\":{\"listen\":\"127.0.0.1:\(Self.adminPort)\"}}")
        caddy = try BackgroundProcess(
            Command(
                "ip", ["netns", "exec", namespace, caddyBinary, "run", "--config", "\(caddyDir)/caddy.json"],
                environment: ProcessInfo.processInfo.environment.merging([
                    "HOME": caddyDir, "XDG_DATA_HOME": caddyDir, "XDG_CONFIG_HOME": caddyDir,
                ]) { $1 }),
            log: "\(caddyDir)/caddy.log")

        let mountpoint = "\(Self.root)/\(name)"
        let network = "172.31.\(240 + index).0/24"
        var conf = TestAgentConf(stateDir: state.path)
        conf.logFile = "\(state.path)/agent.log"
        conf.metricsFile = metricsFile
        conf.pollInterval = "300ms"
        conf.jails = TestAgentConf.Jails(mountpoint: mountpoint, interface: "jpsim0", network: network, drain: "2s")
        conf.caddy = TestAgentConf.Caddy(
            admin: "http://127.0.0.1:\(Self.adminPort)", listen: ["127.0.0.1:\(Self.frontPort)"], automaticHTTPS: false,
            resolver: "127.0.0.1:\(Self.resolverPort)", probe: "127.0.0.1:\(Self.probePort)", refresh: "50ms")
        var hello = TestAgentConf.App("hello", repo: remote, lines: app)
        hello.healthDeadline = "8s"
        hello.probation = "3s"
        conf.apps = [hello]
        _ = try conf.parsed(file: configPath)
        try FileIO.replace(configPath, text: conf.text)
        // One process per host: the namespaces, the host's own /run/netns and name, its btrfs
        // (bootstrapped as users do), then the agent. The script is fixed text; data are its
        // arguments.
        let script = #"""
            set -eu
            mount -t tmpfs -o mode=0755 jailpilot-sim /run/netns
            hostname "$1"
            "$2" --mountpoint "$3" --bridge jpsim0 --network "$4" --size 1G
            shift 4
            exec "$@"
            """#
        agent = try BackgroundProcess(
            Command(
                "ip",
                [
                    "netns", "exec", namespace, "unshare", "--mount", "--uts", "--propagation", "private", "--",
                    "/bin/sh", "-c", script, "sim-host", name, "\(E2EHost.repoRoot)/scripts/bootstrap-linux-host", mountpoint,
                    network, CrashTests.binary, "run", "-c", configPath,
                ]),
            log: "\(state.path)/agent.out")
    }

    /// The store the agent keeps (read from this process; SQLite serialises).
    func store() throws -> StateStore { try StateStore(stateDir: state.path) }

    /// The SHA the store names live, once its go-live is in the timeline (after the flip wait).
    func live() -> String? {
        guard let store = try? store(), let live = try? store.live(app: "hello")?.sha,
            (try? store.timeline(app: "hello", limit: 50).first { $0.outcome == "live" }?.to) == live
        else { return nil }
        return live
    }

    /// Waits for `sha` to go live on this host; records the agent's log otherwise. The default
    /// bound covers a cold Go cache beside the other suites' builds (a canary's first build
    /// took over 60 s in a full run, 2026-12-08), as E2EWorld.expectLive's does.
    @discardableResult
    func expectLive(_ sha: String, within limit: Duration = .seconds(180), sourceLocation: SourceLocation = #_sourceLocation)
        async -> Bool
    {
        let done = await eventually(limit) { live() == sha }
        let tail = log.split(separator: "\n").suffix(30).joined(separator: "\n")
        let out = (try? String(contentsOfFile: "\(state.path)/agent.out", encoding: .utf8)) ?? ""
        #expect(
            done, "\(name): \(sha.prefix(12)) not live within \(limit); agent.log ends:\n\(tail)\n\(out.suffix(2000))",
            sourceLocation: sourceLocation)
        return done
    }

    /// GET / through this host's Caddy (from inside its namespace).
    func fetch() async -> String {
        let result = try? await HostProcessRunner().run(
            Command(
                "ip",
                [
                    "netns", "exec", namespace, "curl", "-s", "--max-time", "3", "-H", "Host: hello.localhost",
                    "http://127.0.0.1:\(Self.frontPort)/",
                ]),
            timeout: .seconds(10))
        guard let result, result.status == 0 else { return "<no response>" }
        return result.stdoutText
    }

    /// Stops the agent (SIGTERM: it drains), then everything its host ran and the namespace.
    func tearDown() async {
        agent?.terminate(grace: .seconds(10))
        caddy?.terminate()
        try? await Self.remove(name: name, namespace: namespace)
    }

    /// Removes host `name` and what it runs (also an interrupted run's): its processes — the
    /// agent and Caddy in its network namespace; the jails' supervisors, whose command lines name
    /// the host's mountpoint (each jail has a mount namespace of its own) — then the namespace,
    /// whose bridge and veths go with it, and the btrfs image, freed once nothing mounts it.
    static func remove(name: String, namespace: String) async throws {
        let mountpoint = "\(root)/\(name)"
        let inNamespace =
            FileIO.exists("/run/netns/\(namespace)") ? (try? await sh(["ip", "netns", "pids", namespace])) ?? "" : ""
        var pids = Set(inNamespace.split(separator: "\n").compactMap { pid_t($0) })
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else {
                continue
            }
            let words = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if words.contains(where: { $0.hasPrefix("\(mountpoint)/") }) { pids.insert(pid) }
        }
        for pid in pids where pid != getpid() { kill(pid, SIGKILL) }
        if FileIO.exists("/run/netns/\(namespace)") { try await sh(["ip", "netns", "del", namespace]) }
        try? FileIO.removeTree(mountpoint)
        unlink("\(mountpoint).img")
    }
}
