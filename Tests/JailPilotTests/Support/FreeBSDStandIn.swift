import Foundation
import JailPilot
import JailPilotTesting

/// A stand-in for the FreeBSD commands the FreeBSD driver runs (zfs, jail, jls, ifconfig,
/// sockstat), written from their man pages, so that the driver's own code runs here as it would
/// on a host. It keeps state and refuses what FreeBSD refuses:
/// - zfs(8): a clone of a missing snapshot or onto an existing dataset; a destroy of a missing
///   dataset, of one still in use by a running or dying jail (libzfs: "pool or dataset is
///   busy"), of one with snapshots without -r, of a snapshot with clones without -R.
/// - jail(8): `-f FILE -c NAME` with a file that does not parse, a name it does not define, a
///   jail that already exists, a missing path, an address another jail holds; `-r` of a jail
///   that is not running. A removed jail stays dying for `dyingFor` after `jail -r` (its
///   sockets in TIME_WAIT): `jls -d` still lists it, `jls` says it is dying, and its dataset
///   is busy (FreeBSDStandIn+Dying.swift).
/// - exec.start runs /etc/rc's job for local services: every rc.d script of the jail with
///   `quietstart` (libexec/rc/rc), under Fixtures/freebsd/rc.subr and the daemon(8) stand-in,
///   paths rewritten into the jail's root, output to exec.consolelog. exec.stop runs them with
///   `faststop`, then the jail's remaining processes are killed (jail -r).
/// A non-VNET jail's wildcard bind takes the jail's address; the stand-in passes that address
/// to the jail's processes as JAIL_IP (the fixture app listens on it).
final class FreeBSDStandIn: ProcessRunning, @unchecked Sendable {
    struct Dataset {
        var mountpoint: String
        var properties: [String: String] = [:]
        var origin: String?
    }

    struct Jail {
        var jid: Int
        var path: String
        /// "" for a jail with `ip4 = "disable"`.
        var address: String
        var conf: [String: String]
        /// nullfs mounts from jail.conf `mount` lines: source, target (host path), read-only.
        var mounts: [(source: String, target: String, readOnly: Bool)] = []
        /// A VNET jail (its own network stack); else its address is an alias of the host's.
        var vnet = false
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/freebsd").path

    let root: String
    let pool = "zroot/jails"
    let template = "15.1-RELEASE"
    /// The build template: a base system whose /usr is this machine's (read-only in jexec),
    /// with /bin, /lib… as symlinks into it, as a merged-/usr system has them.
    let buildTemplate = "build"
    let lock = NSLock()
    var datasets: [String: Dataset] = [:]
    var snapshots: [String: String] = [:] {  // snapshot -> its dataset
        didSet { for name in snapshots.keys where !snapshotOrder.contains(name) { snapshotOrder.append(name) } }
    }
    /// Snapshot names in the order they were taken (zfs rollback -r destroys the later ones).
    var snapshotOrder: [String] = []
    var jails: [String: Jail] = [:]
    /// Removed jails by name, until the kernel frees them (FreeBSDStandIn+Dying.swift).
    var dying: [String: DyingJail] = [:]
    var nextJid = 1
    /// How long a removed jail stays dying, holding its root (0: gone at once).
    var dyingFor: Duration = .zero
    /// Commands that fail with this message, by how their command line starts: a fault a test
    /// puts in (an I/O error, say), not something FreeBSD decides.
    var refusals: [String: String] = [:]
    /// The parameters of every jail created, in order.
    var created: [[String: String]] = []
    /// Every command the driver ran, in order.
    var calls: [String] = []
    /// The jails' network ([jails] network); lo1 holds its first address.
    let network: String
    /// pf's rulesets by anchor path ("" is the main ruleset), as loaded now (FreeBSDStandIn+Host.swift).
    var pfRulesets: [String: [String]] = [:]
    /// The same rulesets as pf evaluates them (StandInPF).
    var pfParsed: [String: StandInPF.Ruleset] = [:]
    /// `pfctl -e` (or pf_enable at boot): loaded rules are only enforced while pf is enabled.
    var pfEnabled = false
    /// pf's state table (StandInPF.evaluate).
    var pfStates: Set<StandInPF.StateKey> = []
    /// Sockets listening in the host's own stack: nil address is a wildcard (`*:22`).
    var hostListeners: [(address: String?, port: Int, proto: String)] = [(nil, 22, "tcp")]
    /// `[jails] network_mode` of the host the test models.
    let networkMode: JailNetworkMode
    /// Bytes free in the pool (`zfs list -p -o available`).
    var available = 100 << 30
    let real = HostProcessRunner()

    var mountpoint: String { "\(root)/jails" }
    var paths: FreeBSDPaths { FreeBSDPaths(under: root) }

    /// A host with the bootstrap's datasets and a template snapshot holding an empty base system,
    /// in `stage` (FreeBSDStandIn+Host.swift): by default bootstrapped and rebooted.
    init(root: String, network: String, stage: HostStage = .ready, networkMode: JailNetworkMode = .vnet) throws {
        self.root = root
        self.network = network
        self.networkMode = networkMode
        for (name, sub) in [
            (pool, ""), ("\(pool)/templates", "/templates"), ("\(pool)/containers", "/containers"), ("\(pool)/builds", "/builds"),
        ] {
            datasets[name] = Dataset(mountpoint: mountpoint + sub)
            try FileIO.makeDirectories(mountpoint + sub)
        }
        let base = "\(mountpoint)/templates/\(template)"
        datasets["\(pool)/templates/\(template)"] = Dataset(mountpoint: base)
        for dir in ["etc/rc.conf.d", "var/run", "var/log", "usr/local/etc/rc.d", "usr/local/bin", "etc/newsyslog.conf.d"] {
            try FileIO.makeDirectories("\(base)/\(dir)")
        }
        try FileIO.replace("\(base)/etc/rc.conf", text: "")
        // /bin, /lib… into /usr as on the build template, for jexec into a release jail.
        for link in ["bin", "sbin", "lib", "lib64"] where FileManager.default.fileExists(atPath: "/usr/\(link)") {
            try FileManager.default.createSymbolicLink(atPath: "\(base)/\(link)", withDestinationPath: "usr/\(link)")
        }
        for dir in ["dev", "proc", "tmp"] { try FileIO.makeDirectories("\(base)/\(dir)") }
        snapshots["\(pool)/templates/\(template)@base"] = "\(pool)/templates/\(template)"
        let build = "\(mountpoint)/templates/\(buildTemplate)"
        datasets["\(pool)/templates/\(buildTemplate)"] = Dataset(mountpoint: build)
        for dir in ["etc", "usr", "tmp", "dev", "proc"] { try FileIO.makeDirectories("\(build)/\(dir)") }
        chmod("\(build)/tmp", 0o1777)
        for link in ["bin", "sbin", "lib", "lib64"] where FileManager.default.fileExists(atPath: "/usr/\(link)") {
            try FileManager.default.createSymbolicLink(atPath: "\(build)/\(link)", withDestinationPath: "usr/\(link)")
        }
        snapshots["\(pool)/templates/\(buildTemplate)@base"] = "\(pool)/templates/\(buildTemplate)"
        for dir in ["etc/jail.conf.d", "etc/rc.conf.d", "var/log"] { try FileIO.makeDirectories("\(root)/\(dir)") }
        try setStage(stage)
    }

    /// agent.conf's `[jails]` for this host.
    var jailSettings: TestAgentConf.Jails {
        TestAgentConf.Jails(
            dataset: pool, mountpoint: mountpoint, template: template, networkMode: networkMode.rawValue,
            interface: networkMode == .vnet ? "jailpilot0" : "lo1", network: network, drain: "1s")
    }

    func running(_ name: String) -> Jail? { lock.withLock { jails[name] } }
    func hasDataset(_ name: String) -> Bool { lock.withLock { datasets["\(pool)/containers/\(name)"] != nil } }
    /// The build jails' datasets that exist now.
    var buildDatasets: [String] { lock.withLock { datasets.keys.filter { $0.hasPrefix("\(pool)/builds/") }.sorted() } }
    var jailNames: [String] { lock.withLock { jails.keys.sorted() } }
    func snapshot(_ dataset: String, _ name: String) { lock.withLock { snapshots["\(dataset)@\(name)"] = dataset } }

    func run(_ command: Command, stdout: OutputTarget, stderr: OutputTarget, timeout: Duration?) async throws
        -> ProcessResult
    {
        let argv = command.arguments
        lock.withLock { calls.append(command.description) }
        if let refusal = lock.withLock({ refusals.first { command.description.hasPrefix($0.key) }?.value }) {
            return fail(refusal)
        }
        switch command.executable {
        case "zfs": return lock.withLock { zfs(argv) }
        case "jail": return try await jail(argv)
        case "jexec": return try await jexec(argv, command: command, stdout: stdout, stderr: stderr, timeout: timeout)
        case "jls": return lock.withLock { jls(argv) }
        case "ifconfig": return ifconfig(argv)
        case "pfctl": return try pfctl(argv)
        case "sysctl", "rctl":
            return try await real.run(
                Command(
                    "/bin/sh", ["\(Self.fixtures)/\(command.executable)"] + argv,
                    environment: ["PATH": "/usr/bin:/bin", "STANDIN_HOST": hostDir]),
                stdout: stdout, stderr: stderr, timeout: timeout)
        case "sockstat":
            return ok("USER     COMMAND    PID   FD  PROTO  LOCAL ADDRESS         FOREIGN ADDRESS\n")
        default:
            return try await real.run(command, stdout: stdout, stderr: stderr, timeout: timeout)
        }
    }

    func ok(_ out: String = "") -> ProcessResult {
        ProcessResult(status: 0, timedOut: false, stdout: Data(out.utf8), stderr: Data())
    }
    func fail(_ message: String, status: Int32 = 1) -> ProcessResult {
        ProcessResult(status: status, timedOut: false, stdout: Data(), stderr: Data((message + "\n").utf8))
    }
}
