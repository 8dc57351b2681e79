import JailPilotCore

/// The FreeBSD jail driver, following the seed article's host layout: ZFS clones of
/// `<dataset>/templates/<template>@base` under `<dataset>/containers/`, one
/// `<state_dir>/jail.conf.d/<name>.conf` per jail, each a VNET jail with an epair on the
/// host's bridge (or, with `network_mode = "alias"`, an alias on lo1: FreeBSDJailNetwork), the
/// service under daemon(8) with its rc.d script, rc.conf.d knob and newsyslog rule.
///
/// Jails are started and stopped with jail(8) itself (`jail -f FILE -c NAME` / `-r NAME`), not
/// `service jail`: rc.d/jail prints "cannot start jail" on stdout and exits 0 whatever happens
/// (libexec/rc/rc.d/jail, jail_start), so a failure would only show as a health timeout.
/// rc.d/jail never sees these jails: the agent starts the live releases when it starts
/// (rc.d/jailpilot at boot), after their pf policy is loaded; kept releases stay down, and an
/// operator's own jails and `jail_list` are untouched (FreeBSDJails+Legacy.swift moves what
/// earlier versions put under /etc).
/// It is plain Swift emitting commands: on Linux it runs against a stand-in of the FreeBSD
/// commands (Tests/JailPilotTests/Support/FreeBSDStandIn.swift) and is compared as plans.
public struct FreeBSDJails: JailHost {
    public let settings: JailSettings
    public let runner: any ProcessRunning
    /// This state_dir's identity, set as the `jailpilot:owner` property of every clone it makes.
    public let owner: OwnerID
    /// Where the host's configuration lives (the real /etc and /var/log, or a test's scratch root).
    public let paths: FreeBSDPaths
    /// The first pause between destroy attempts while the dataset is busy.
    public var retryPause: Duration = .milliseconds(250)
    /// Where the steps run are noted (tests); nil in production.
    public var recorder: StepRecorder?
    /// What reaching a step does (nothing unless a crash test injected its own).
    public var crash: any CrashPoints = NoCrashPoints()

    public init(settings: JailSettings, runner: any ProcessRunning, owner: OwnerID, paths: FreeBSDPaths = FreeBSDPaths()) {
        self.settings = settings
        self.runner = runner
        self.owner = owner
        self.paths = paths
    }

    /// The ZFS user property that marks a clone's owner. zfsprops(7), "User Properties": a
    /// name with a colon, lower-case letters, digits and `:+.-_`; values are inherited by
    /// children, and values are at most 8192 bytes. `zfs clone -o` sets it with the clone, atomically.
    static let ownerProperty = "jailpilot:owner"
    /// The app's commit mark on a release's dataset (CommitMark), a user property like the owner.
    static let markProperty = "jailpilot:mark"
    /// libzfs says "pool or dataset is busy" for EZFS_BUSY (lib/libzfs/libzfs_util.c), e.g. while a
    /// removed jail is still dying with sockets in TIME_WAIT.
    static let busy = "dataset is busy"

    func dataset(_ name: String) -> String { "\(settings.dataset)/containers/\(name)" }
    var snapshot: String { "\(settings.dataset)/templates/\(settings.template)@base" }
    func root(_ name: String) -> String { "\(settings.mountpoint)/containers/\(name)" }
    /// The template's root and rtld's standard path, "/lib:/usr/lib" (STANDARD_LIBRARY_PATH,
    /// libexec/rtld-elf/rtld_paths.h): base's libraries. /usr/local/lib is reached only through
    /// ldconfig's hints, which a jail cloned from a base template does not have.
    public var libraries: (root: String, dirs: [String])? {
        ("\(settings.mountpoint)/templates/\(settings.template)", ["/lib", "/usr/lib"])
    }
    /// The jails' jail.conf files: this state_dir's own directory, which rc.d/jail never reads,
    /// so neither a kept release nor an operator's `jail_list` is touched (the agent starts the
    /// live releases itself, after loading their policy).
    var jailConfDir: String { paths.jailConfDir ?? "\(owner.stateDir)/jail.conf.d" }
    func conf(_ name: String) -> String { "\(jailConfDir)/\(name).conf" }
    /// How this host's jails are networked (`[jails] network_mode`).
    var network: FreeBSDJailNetwork {
        FreeBSDJailNetwork(
            mode: settings.networkMode, interface: settings.interface, network: settings.network, helper: paths.netHelper)
    }
    /// The jail-net helper a VNET jail.conf runs; none is needed for alias jails.
    var helperSteps: [HostStep] {
        settings.networkMode == .vnet
            ? [.write(path: paths.netHelper, content: FreeBSDJailNetwork.helperScript, mode: 0o755)] : []
    }
    func consoleLog(_ name: String) -> String { "\(paths.logDir)/jail_console_\(name).log" }
    public func logPath(_ spec: JailSpec) -> String { "\(root(spec.name))/var/log/\(spec.service).log" }

    /// The app's `files`, installed under the jail's root.
    func releaseFiles(_ spec: JailSpec, root: String) -> [HostStep] {
        (spec.env?.files ?? []).map { .releaseFile(path: root + $0.path, file: $0) }
    }

    public func plan(_ action: JailAction, _ spec: JailSpec) -> [HostStep] {
        let name = spec.name
        let root = self.root(name)
        switch action {
        case .provision:
            return [
                // quota: what the clone writes itself (its `used`; what it shares with the template
                // snapshot is the origin's), set with the clone as the owner is (zfsprops(7)).
                .run(
                    Command(
                        "zfs",
                        [
                            "clone", "-o", "\(Self.ownerProperty)=\(owner.marker)",
                        ] + (spec.mark.map { ["-o", "\(Self.markProperty)=\($0.text)"] } ?? []) + [
                            "-o", "quota=\(spec.limits.disk)", snapshot, dataset(name),
                        ])),
                .install(from: spec.artifact, to: "\(root)/usr/local/bin/\(spec.service)", mode: 0o755),
            ] + (spec.data.map { [.run(Command("mkdir", ["-p", root + $0]))] } ?? []) + [
                .write(
                    path: "\(root)/usr/local/etc/rc.d/\(spec.service)",
                    content: FreeBSDFiles.rcScript(
                        service: spec.service, port: spec.port, drain: settings.drain, app: spec.app, sha: spec.sha,
                        data: spec.data, args: spec.args), mode: 0o755)
            ]
                + (spec.env.map {
                    [.secret(path: "\(root)/usr/local/etc/jailpilot/\(spec.service).env", content: $0.shellFile, names: $0.names)]
                } ?? []) + releaseFiles(spec, root: root) + [
                    // load_rc_config sources /etc/rc.conf.d/<name> (rc.subr): an atomic file write that
                    // fails loudly, where `sysrc -f` exits 0 when its write fails.
                    .write(
                        path: "\(root)/etc/rc.conf.d/\(spec.service)", content: FreeBSDFiles.enable(service: spec.service),
                        mode: 0o644),
                    .write(
                        path: "\(root)/etc/newsyslog.conf.d/\(spec.service).conf",
                        content: FreeBSDFiles.newsyslog(service: spec.service),
                        mode: 0o644),
                ]
        case .start:
            // The jail.conf is written from the settings in force at every start, so a kept
            // release started again (a rollback, the agent after a reboot) gets today's network
            // mode, limits helper and drain, e.g. a VNET jail after a host moved off lo1.
            return [.write(path: paths.limitsHelper, content: FreeBSDFiles.limitsScript, mode: 0o755)] + helperSteps + [
                .write(
                    path: conf(name),
                    content: FreeBSDFiles.jailConf(
                        spec, path: root, network: network, drain: settings.drain, consoleLog: consoleLog(name),
                        limitsHelper: paths.limitsHelper, data: spec.data.map { (dataMount(spec.app), root + $0) }),
                    mode: 0o644),
                .run(Command("jail", ["-f", conf(name), "-c", name])),
            ]
        case .stop:
            return [.run(Command("jail", ["-f", conf(name), "-r", name]), limit: stopLimit)]
        case .destroy:
            // -r takes the clone's own snapshots (periodic snapshot tools make them) with it; it
            // never reaches the template, whose snapshot is the clone's origin, not its child.
            // The destroy waits for the jail to be really gone; a few retries are left for the
            // moment after it leaves the kernel's list and before its root is released
            // (sys/kern/kern_jail.c, prison_deref: vrele after the list lock is dropped).
            return [
                .run(Command("jail", ["-f", conf(name), "-r", name]), mayFail: true, limit: stopLimit),
                Self.waitGone(
                    name, dataset: dataset(name),
                    then: "its destroy is tried again at the app's next retention (its next deploy or retire)"),
                .retry(Command("zfs", ["destroy", "-r", dataset(name)]), attempts: 8, busy: Self.busy),
                .run(Command("rm", ["-f", conf(name), consoleLog(name)])),
            ]
        }
    }

    /// Nothing: no boot list. The agent starts the live release at its own start (rc.d/jailpilot).
    public func promotePlan(_ spec: JailSpec, replacing old: JailSpec?) -> [HostStep] { [] }

    var executor: PlanExecutor { PlanExecutor(runner: runner, retryPause: retryPause, recorder: recorder, crash: crash) }

    /// A jail that is not running is already stopped (`jail -r` would say "not found"); a
    /// clone that is already gone is not destroyed again (destroy is idempotent).
    public func steps(_ action: JailAction, _ spec: JailSpec) async -> [HostStep] {
        switch action {
        case .stop: return await isRunning(spec) ? plan(.stop, spec) : []
        case .destroy:
            let exists = await exists(spec)
            return plan(.destroy, spec).filter {
                switch $0 {
                case .waitWhile, .retry: exists
                default: true
                }
            }
        case .provision, .start: return plan(action, spec)
        }
    }

    public func provision(_ spec: JailSpec) async throws {
        try spec.validate()
        try await executor.execute(await steps(.provision, spec))
    }

    /// `jail -c` exits non-zero with jail(8)'s own message when the jail cannot be made.
    public func start(_ spec: JailSpec) async throws {
        try spec.validate()
        try await executor.execute(await steps(.start, spec))
    }

    public func stop(_ spec: JailSpec) async throws {
        try await requireNotOthers(spec, to: "stop")
        try await executor.execute(await steps(.stop, spec))
    }

    public func destroy(_ spec: JailSpec) async throws {
        try await requireNotOthers(spec, to: "destroy")
        try await executor.execute(await steps(.destroy, spec))
    }

    public func isRunning(_ spec: JailSpec) async -> Bool {
        (try? await runner.run(Command("jls", ["-j", spec.name, "jid"]), timeout: .seconds(10)))?.succeeded ?? false
    }

    public func exists(_ spec: JailSpec) async -> Bool {
        (try? await runner.run(Command("zfs", ["list", "-H", "-o", "name", dataset(spec.name)]), timeout: .seconds(10)))?
            .succeeded
            ?? false
    }

    public func promote(_ spec: JailSpec, replacing old: JailSpec?) async throws {}

    /// Inside a FreeBSD jail newsyslog rotates the log (its rule is in the provision plan) and
    /// daemon(8) reopens it on SIGHUP (-H): nothing for the agent to do.
    public func rotateLog(_ spec: JailSpec, limit: Int, keep: Int) {}

    /// The pf anchor `jailpilot/jails`, under the bootstrap's `anchor "jailpilot"` hook
    /// (pf.conf(5), ANCHORS: nested anchors are evaluated through their parent's rule).
    public func networkPolicyPlan(_ policy: JailNetworkPolicy) -> [HostStep] {
        [
            .write(
                path: paths.pfJails,
                content: policy.pf(network: settings.network, bridge: settings.interface, mode: settings.networkMode),
                mode: 0o600),
            .run(Command("pfctl", ["-a", "jailpilot/jails", "-f", paths.pfJails])),
        ]
    }

    /// Without pf loaded there is no /dev/pf and pfctl exits 1: the rules are written (pf loads
    /// them once it runs and the next release starts) and the deploy goes on; `doctor` and
    /// `status` report the policy as not enforced.
    public func networkPolicySteps(_ policy: JailNetworkPolicy) async -> [HostStep] {
        let steps = networkPolicyPlan(policy)
        return FileIO.exists(paths.pfDevice) ? steps : steps.filter { if case .write = $0 { true } else { false } }
    }

    public func applyNetworkPolicy(_ policy: JailNetworkPolicy) async throws {
        try await executor.execute(await networkPolicySteps(policy))
    }
}

/// The host paths the FreeBSD driver reads and writes outside the jails' datasets.
public struct FreeBSDPaths: Sendable, Equatable {
    /// One jail.conf(5) file per jail; nil: `<state_dir>/jail.conf.d`.
    public var jailConfDir: String?
    /// Where versions before the VNET change kept release jail.conf files (moved at agent start).
    public var legacyJailConfDir: String
    /// rc.conf.d(5): versions before the VNET change kept a boot list in `<rcConfDir>/jail/`.
    public var rcConfDir: String
    /// Where jail(8) writes each jail's console log (exec.consolelog).
    public var logDir: String
    /// The rules of the pf anchor jailpilot/jails (what jails may reach).
    public var pfJails: String
    /// jailpilot's own helpers that jail.conf runs (jail-limits, jail-net).
    public var libexecDir: String
    /// devfs: `/dev/pf` exists once pf(4) is loaded.
    public var devDir: String
    /// loader.conf(5), where boot-only tunables such as kern.racct.enable are set.
    public var loaderConf: String

    public init(
        jailConfDir: String? = nil, legacyJailConfDir: String = "/etc/jail.conf.d", rcConfDir: String = "/etc/rc.conf.d",
        logDir: String = "/var/log", pfJails: String = "/etc/pf.jailpilot-jails.conf",
        libexecDir: String = "/usr/local/libexec/jailpilot", devDir: String = "/dev", loaderConf: String = "/boot/loader.conf"
    ) {
        self.jailConfDir = jailConfDir
        self.legacyJailConfDir = legacyJailConfDir
        self.rcConfDir = rcConfDir
        self.logDir = logDir
        self.pfJails = pfJails
        self.libexecDir = libexecDir
        self.devDir = devDir
        self.loaderConf = loaderConf
    }

    /// The same layout under `root` (tests and stand-ins); jail.conf files in the state_dir.
    public init(under root: String) {
        self.init(
            legacyJailConfDir: "\(root)/etc/jail.conf.d", rcConfDir: "\(root)/etc/rc.conf.d", logDir: "\(root)/var/log",
            pfJails: "\(root)/etc/pf.jailpilot-jails.conf", libexecDir: "\(root)/usr/local/libexec/jailpilot",
            devDir: "\(root)/dev", loaderConf: "\(root)/boot/loader.conf")
    }

    /// The helper each jail.conf runs to add and remove the jail's rctl rules.
    public var limitsHelper: String { "\(libexecDir)/jail-limits" }
    /// The helper each VNET jail.conf runs to make and destroy its epair.
    public var netHelper: String { "\(libexecDir)/jail-net" }
    /// pf's control device; pfctl(8) exits 1 without it (sbin/pfctl/pfctl.c opens it first).
    public var pfDevice: String { "\(devDir)/pf" }
}
