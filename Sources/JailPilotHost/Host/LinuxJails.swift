import FoundationEssentials
import Glibc
import JailPilotCore

/// The Linux jail driver: a btrfs snapshot per release (the ZFS clone analogue), a network
/// namespace with a veth on the host bridge (the lo1 analogue), and the service chrooted into
/// its snapshot as an unprivileged user in its own pid and mount namespaces, under a small
/// supervisor that restarts it if it dies and outlives the agent.
///
/// Layout under `[jails] mountpoint` (a btrfs filesystem, see scripts/bootstrap-linux-host):
/// `templates/<template>` (read-only subvolume), `containers/<name>` (one per release),
/// `run/<name>.sh` and `run/<name>.pid` (supervisor script and pid).
public struct LinuxJails: JailHost {
    public let settings: JailSettings
    public let runner: any ProcessRunning
    /// This state_dir's identity, marked on every jail it makes.
    public let owner: OwnerID
    /// The host's cgroup layout, read once.
    let cgroups: CgroupLayout
    /// Where the steps run are noted (tests); nil in production.
    public var recorder: StepRecorder?
    /// What reaching a step does (nothing unless a crash test injected its own).
    public var crash: any CrashPoints = NoCrashPoints()
    /// How long a release step waits for a started jail to be ready.
    public var readyTimeout: Duration = .seconds(30)

    public init(settings: JailSettings, runner: any ProcessRunning, owner: OwnerID) {
        self.settings = settings
        self.runner = runner
        self.owner = owner
        self.cgroups = CgroupLayout.detect()
    }

    var root: String { settings.mountpoint }
    func container(_ name: String) -> String { "\(root)/containers/\(name)" }
    /// The owner marker inside a release's subvolume (root-only, outside what the app writes).
    func marker(_ name: String) -> String { "\(container(name))/.jailpilot-owner" }
    /// Where a snapshot is marked before it takes its name, so no jail ever exists unmarked.
    func unnamed(_ name: String) -> String { "\(root)/containers/.new-\(owner.id)-\(name)" }
    /// The namespace's marker: an alias on its loopback (`ip link set lo alias`).
    var netnsAlias: String { "jailpilot:\(owner.id)" }
    func script(_ name: String) -> String { "\(root)/run/\(name).sh" }
    /// The app's environment: in its subvolume, root's alone, outside the chroot's reach of the
    /// app's user (like the owner marker); the supervisor sources it as root.
    func envFile(_ name: String) -> String { "\(container(name))/.jailpilot-env" }
    func pidFile(_ name: String) -> String { "\(root)/run/\(name).pid" }
    /// Written by the supervisor once /dev, the data volume and the hostname are in place: the
    /// release step enters the jail only then (a child of pid 1 may still be one of its mounts).
    func readyFile(_ name: String) -> String { "\(root)/run/\(name).ready" }
    /// The ip(8) batch files of a jail's network (`side`: host or netns).
    func batchFile(_ name: String, _ side: String) -> String { "\(root)/run/\(name).ip-\(side)" }
    /// veth names are limited to 15 characters: derive a stable short id from the jail name.
    func vethHost(_ name: String) -> String { "jpv" + String(fnv1a(name) & 0xff_ffff_ffff, radix: 16) }
    func vethJail(_ name: String) -> String { "jpj" + String(fnv1a(name) & 0xff_ffff_ffff, radix: 16) }
    /// A stable, locally administered MAC for the jail side, so a restarted jail keeps its MAC.
    func mac(_ name: String) -> String {
        let bytes = (0..<5).map { String.hex((fnv1a("mac:" + name) >> (8 * UInt64($0))) & 0xff, width: 2) }
        return "02:" + bytes.joined(separator: ":")
    }
    var gateway: String { settings.network.host(1) ?? "" }
    /// The template's root and glibc's default directories (Debian's multiarch ones too).
    public var libraries: (root: String, dirs: [String])? {
        (
            "\(root)/templates/\(settings.template)",
            ["/lib", "/lib64", "/usr/lib", "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/usr/local/lib"]
        )
    }
    public func logPath(_ spec: JailSpec) -> String { "\(container(spec.name))/var/log/\(spec.service).log" }

    public func plan(_ action: JailAction, _ spec: JailSpec) -> [HostStep] {
        let name = spec.name
        let ns = ["ip", "-n", name]
        switch action {
        case .provision:
            let make: [HostStep] = [
                .run(Command("btrfs", ["subvolume", "snapshot", "\(root)/templates/\(settings.template)", unnamed(name)])),
                .write(path: "\(unnamed(name))/.jailpilot-owner", content: owner.marker(spec.mark) + "\n", mode: 0o600),
                .rename(from: unnamed(name), to: container(name)),
                diskLimit(spec),
                .install(from: spec.artifact, to: "\(container(name))/usr/local/bin/\(spec.service)", mode: 0o755),
            ]
            let data: [HostStep] = spec.data.map { [.run(Command("mkdir", ["-p", container(name) + $0]))] } ?? []
            let env: [HostStep] = spec.env.map { [.secret(path: envFile(name), content: $0.shellFile, names: $0.names)] } ?? []
            let files: [HostStep] = (spec.env?.files ?? []).map { .releaseFile(path: container(name) + $0.path, file: $0) }
            return make + data + env + files + [.write(path: script(name), content: supervisor(spec), mode: 0o755)]
        case .start:
            return [
                // A fresh log: the health gate reads the service's exit from it.
                .write(path: logPath(spec), content: "", mode: 0o644),
                // Two ip(8) processes instead of eleven (`-batch`, one command a line, stopping
                // at the first that fails): the host's side, then the namespace's. Names and
                // addresses were validated (JailSpec.validate), so no line can hold another.
                .write(
                    path: batchFile(name, "host"),
                    content: """
                        netns add \(name)
                        link add \(vethHost(name)) type veth peer name \(vethJail(name)) address \(mac(name))
                        link set \(vethJail(name)) netns \(name)
                        link set \(vethHost(name)) master \(settings.interface) group \(JailNetworkPolicy.portGroup(bridge: settings.interface)) up

                        """, mode: 0o600),
                .run(Command("ip", ["-batch", batchFile(name, "host")])),
                .write(
                    path: batchFile(name, "netns"),
                    content: """
                        link set dev lo alias \(netnsAlias)
                        link set \(vethJail(name)) name eth0
                        addr add \(spec.address)/\(settings.network.prefix) dev eth0
                        link set eth0 up
                        link set lo up
                        route add default via \(gateway)

                        """, mode: 0o600),
                .run(Command(ns[0], Array(ns.dropFirst()) + ["-batch", batchFile(name, "netns")])),
                // The address may have belonged to an earlier jail: forget its old MAC on the host.
                .run(Command("ip", ["neigh", "flush", "to", spec.address, "dev", settings.interface]), mayFail: true),
            ] + limitSteps(spec) + [
                .remove(path: readyFile(name)),
                .spawn(
                    enteringCgroups(
                        Command(
                            "ip",
                            [
                                "netns", "exec", name, "unshare", "--pid", "--mount", "--uts", "--fork", "--kill-child=SIGTERM",
                                "/bin/sh", script(name),
                            ],
                            environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]), name),
                    pidFile: pidFile(name)),
            ]
        case .stop:
            return [
                .terminate(
                    pidFile: pidFile(name), marker: "\(name).sh", listPids: Command("ip", ["netns", "pids", name]),
                    drain: settings.drain),
                .run(Command("ip", ["link", "del", vethHost(name)]), mayFail: true),
                .run(Command("ip", ["netns", "del", name]), mayFail: true),
            ] + (cgroupDirs(name).isEmpty ? [] : [.run(Command("rmdir", cgroupDirs(name)), mayFail: true)])
        case .destroy:
            return plan(.stop, spec) + [
                .run(Command("btrfs", ["subvolume", "delete", container(name)]), mayFail: true),
                // A provision that stopped between its snapshot and the rename leaves this behind.
                .run(Command("btrfs", ["subvolume", "delete", unnamed(name)]), mayFail: true),
                .run(
                    Command(
                        "rm",
                        ["-f", script(name), pidFile(name), readyFile(name), batchFile(name, "host"), batchFile(name, "netns")])),
            ]
        }
    }

    /// The supervisor: pid 1 of the jail's pid namespace. It restarts the service if it dies,
    /// forwards SIGTERM to it and exits when it has stopped, which ends the namespace.
    func supervisor(_ spec: JailSpec) -> String {
        let log = "/var/log/\(spec.service).log"
        return """
            #!/bin/sh
            # jailpilot supervisor for \(spec.name): pid 1 of the jail's pid namespace.
            root=\(ShellQuote.quote(container(spec.name)))
            log="$root"\(ShellQuote.quote(log))
            stopping=0
            child=0
            fail() { echo "jailpilot: \(spec.service) exited with status 1 ($1); not started" >>"$log"; exit 1; }
            trap 'stopping=1; [ "$child" -ne 0 ] && kill -TERM "$child" 2>/dev/null' TERM INT HUP
            # Limits: \(spec.limits.summary) (its cgroups and qgroup, set by the agent).
            \(deviceLines)\(spec.data.map { "\n" + dataMountLine(spec, $0) } ?? "")
            hostname \(ShellQuote.quote(spec.name.replacing("_", with: "-"))) || fail "cannot set its hostname"
            : >\(ShellQuote.quote(readyFile(spec.name))) || fail "cannot say it is ready"
            while :; do
                # The app's variables come from a root-only file sourced by a clean sh (set -a exports
                # them), never from arguments: nothing of them shows in a process listing.
                \(appLaunch(spec)) /usr/local/bin/\(spec.service)\(quotedArgs(spec)) </dev/null >>"$log" 2>&1 &
                child=$!
                wait "$child"
                status=$?
                while kill -0 "$child" 2>/dev/null; do
                    wait "$child"
                    status=$?
                done
                [ "$stopping" -eq 1 ] && exit 0
                echo "jailpilot: \(spec.service) exited with status $status; restarting in 1s" >>"$log"
                sleep 1
                [ "$stopping" -eq 1 ] && exit 0
            done

            """
    }

    /// How the app (and its release step) is started: a clean environment with the app's
    /// variables sourced from its root-only file, then chrooted as nobody. Words follow it.
    func appLaunch(_ spec: JailSpec) -> String {
        let data = spec.data.map { " JAILPILOT_DATA=\(ShellQuote.quote($0))" } ?? ""
        return """
            env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/ PORT=\(spec.port) JAILPILOT_APP=\(spec.app) JAILPILOT_SHA=\(spec.sha)\(data) \\
                    /bin/sh -c 'if [ -f "$1" ]; then set -a; . "$1" || exit 1; set +a; fi; shift; exec "$@"' jailpilot-env "$root/.jailpilot-env" \\
                    /usr/sbin/chroot --userspec=\(AppUser.uid):\(AppUser.gid) "$root"
            """
    }

    /// The service's arguments, each single-quoted: sh expands nothing in them.
    func quotedArgs(_ spec: JailSpec) -> String {
        spec.args.map { " " + ShellQuote.single($0) }.joined()
    }

    /// The app's data volume, bound into the jail's own mount namespace (gone with it).
    func dataMountLine(_ spec: JailSpec, _ path: String) -> String {
        "mount --bind \(ShellQuote.quote(volume(spec.app))) \"$root\"\(ShellQuote.quote(path)) || fail \"cannot mount its data volume\""
    }

    var executor: PlanExecutor { PlanExecutor(runner: runner, recorder: recorder, crash: crash) }

    /// Linux releases are not started at boot by the host; the agent restarts the live ones.
    public func promotePlan(_ spec: JailSpec, replacing old: JailSpec?) -> [HostStep] { [] }
    public func promote(_ spec: JailSpec, replacing old: JailSpec?) async throws {}
    /// Live releases come back through the agent's recovery; there is no separate boot set.
    public func syncBootList(_ live: [JailSpec]) async throws {}

    public func networkPolicyPlan(_ policy: JailNetworkPolicy) -> [HostStep] {
        let file = "\(root)/run/network.nft"
        return [
            .write(path: file, content: policy.nftables(bridge: settings.interface, network: settings.network), mode: 0o600),
            .run(Command("nft", ["-f", file])),
        ]
    }

    public func applyNetworkPolicy(_ policy: JailNetworkPolicy) async throws {
        try await executor.execute(networkPolicyPlan(policy))
    }

    public func provision(_ spec: JailSpec) async throws {
        try spec.validate()
        guard FileIO.exists("\(root)/templates/\(settings.template)") else {
            throw HostStepError(
                step: "provision \(spec.name)",
                message: "template \(root)/templates/\(settings.template) is missing; run scripts/bootstrap-linux-host")
        }
        do { try await executor.execute(plan(.provision, spec)) } catch let error as HostStepError
            where error.step.contains(" qgroup ")
        {
            throw HostStepError(
                step: error.step,
                message:
                    "\(error.message); per-release disk limits need btrfs quotas on \(root): btrfs quota enable \(root) (scripts/bootstrap-linux-host does it)"
            )
        }
    }

    public func start(_ spec: JailSpec) async throws {
        do { try await executor.execute(plan(.start, spec)) } catch let error as HostStepError where error.step.contains("cgroup")
        {
            throw HostStepError(
                step: error.step,
                message:
                    "\(error.message); per-release memory and CPU limits need the host's cgroup memory and cpu controllers (cgroup v2: both listed in /sys/fs/cgroup/cgroup.subtree_control)"
            )
        }
    }

    public func stop(_ spec: JailSpec) async throws {
        try await requireNotOthers(spec, to: "stop")
        try await executor.execute(plan(.stop, spec))
    }

    public func destroy(_ spec: JailSpec) async throws {
        try await requireNotOthers(spec, to: "destroy")
        try await executor.execute(plan(.destroy, spec))
    }

    public func isRunning(_ spec: JailSpec) async -> Bool { supervisorPid(spec.name) != nil }

    public func exists(_ spec: JailSpec) async -> Bool { FileIO.exists(container(spec.name)) }

    public func exitReport(_ spec: JailSpec) async -> String? {
        guard let log = try? FileIO.readText(logPath(spec), lastBytes: 65536),
            let line = log.split(separator: "\n").last(where: {
                $0.hasPrefix("jailpilot: ") && $0.contains(" exited with status ")
            })
        else { return nil }
        let tail = log.split(separator: "\n").filter { !$0.hasPrefix("jailpilot: ") }.suffix(3).joined(separator: " | ")
        return line.dropFirst("jailpilot: ".count).split(separator: ";").first.map {
            String($0) + (tail.isEmpty ? "" : ": \(tail)")
        }
    }

    /// The supervisor's pid if it is alive and really ours (guards against pid reuse).
    func supervisorPid(_ name: String) -> pid_t? { PlanExecutor.livePid(pidFile(name), marker: "\(name).sh") }

    func children(of pid: pid_t) -> [pid_t] { PlanExecutor.children(of: pid) }
}
