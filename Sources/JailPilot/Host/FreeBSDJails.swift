/// The FreeBSD jail driver, following the seed article's host layout: ZFS clones of
/// `<dataset>/templates/<template>@base` under `<dataset>/containers/`, one
/// `/etc/jail.conf.d/<name>.conf` per jail on `lo1`, the service under daemon(8) with its
/// rc.d script, rc.conf knob and newsyslog rule, started with `service jail start <name>`.
///
/// At boot rc.d/jail starts `jail_list`; the driver keeps exactly the live releases in it
/// (`sysrc jail_list+=` on promote, `-=` on replace and destroy), so kept releases stay down.
/// It is plain Swift emitting commands: it compiles and is tested on Linux through its plans.
public struct FreeBSDJails: JailHost {
    public let settings: JailSettings
    public let runner: any ProcessRunning
    /// This state_dir's identity, set as the `jailpilot:owner` property of every clone it makes.
    public let owner: OwnerID

    public init(settings: JailSettings, runner: any ProcessRunning, owner: OwnerID) {
        self.settings = settings
        self.runner = runner
        self.owner = owner
    }

    /// The ZFS user property that marks a clone's owner. zfsprops(7), "User Properties": a
    /// name with a colon, lower-case letters, digits and `:+.-_`; values are inherited by
    /// children, and values are at most 8192 bytes. `zfs clone -o` sets it with the clone, atomically.
    static let ownerProperty = "jailpilot:owner"

    func dataset(_ name: String) -> String { "\(settings.dataset)/containers/\(name)" }
    var snapshot: String { "\(settings.dataset)/templates/\(settings.template)@base" }
    func root(_ name: String) -> String { "\(settings.mountpoint)/containers/\(name)" }
    func conf(_ name: String) -> String { "/etc/jail.conf.d/\(name).conf" }
    public func logPath(_ spec: JailSpec) -> String { "\(root(spec.name))/var/log/\(spec.service).log" }

    public func plan(_ action: JailAction, _ spec: JailSpec) -> [HostStep] {
        let name = spec.name
        let root = self.root(name)
        switch action {
        case .provision:
            return [
                .run(Command("zfs", ["clone", "-o", "\(Self.ownerProperty)=\(owner.marker)", snapshot, dataset(name)])),
                .install(from: spec.artifact, to: "\(root)/usr/local/bin/\(spec.service)", mode: 0o755),
                .write(
                    path: "\(root)/usr/local/etc/rc.d/\(spec.service)",
                    content: FreeBSDFiles.rcScript(service: spec.service, port: spec.port, drain: settings.drain), mode: 0o755),
                .run(Command("sysrc", ["-f", "\(root)/etc/rc.conf", "\(spec.service)_enable=YES"])),
                .write(
                    path: "\(root)/etc/newsyslog.conf.d/\(spec.service).conf",
                    content: FreeBSDFiles.newsyslog(service: spec.service),
                    mode: 0o644),
                .write(
                    path: conf(name),
                    content: FreeBSDFiles.jailConf(spec, path: root, interface: settings.interface, drain: settings.drain),
                    mode: 0o644),
            ]
        case .start:
            return [.run(Command("service", ["jail", "start", name]))]
        case .stop:
            return [.run(Command("service", ["jail", "stop", name]))]
        case .destroy:
            return [
                .run(Command("service", ["jail", "stop", name]), mayFail: true),
                .run(Command("sysrc", ["jail_list-=\(name)"]), mayFail: true),
                .run(Command("zfs", ["destroy", dataset(name)])),
                .run(Command("rm", ["-f", conf(name)])),
            ]
        }
    }

    public func promotePlan(_ spec: JailSpec, replacing old: JailSpec?) -> [HostStep] {
        var steps: [HostStep] = [.run(Command("sysrc", ["jail_list+=\(spec.name)"]))]
        if let old, old.name != spec.name { steps.append(.run(Command("sysrc", ["jail_list-=\(old.name)"]))) }
        return steps
    }

    var executor: PlanExecutor { PlanExecutor(runner: runner) }

    public func provision(_ spec: JailSpec) async throws {
        try spec.validate()
        try await executor.execute(plan(.provision, spec))
    }
    public func start(_ spec: JailSpec) async throws { try await executor.execute(plan(.start, spec)) }
    public func stop(_ spec: JailSpec) async throws {
        try await requireNotOthers(spec, to: "stop")
        try await executor.execute(plan(.stop, spec))
    }

    public func destroy(_ spec: JailSpec) async throws {
        try await requireNotOthers(spec, to: "destroy")
        // Idempotent: a clone that is already gone is not an error.
        if await exists(spec) {
            try await executor.execute(plan(.destroy, spec))
        } else {
            try await executor.execute(
                plan(.destroy, spec).filter { if case .run(let c, _) = $0 { c.executable != "zfs" } else { true } })
        }
    }

    public func isRunning(_ spec: JailSpec) async -> Bool {
        (try? await runner.run(Command("jls", ["-j", spec.name, "jid"]), timeout: .seconds(10)))?.succeeded ?? false
    }

    public func exists(_ spec: JailSpec) async -> Bool {
        (try? await runner.run(Command("zfs", ["list", "-H", "-o", "name", dataset(spec.name)]), timeout: .seconds(10)))?
            .succeeded
            ?? false
    }

    /// daemon(8) restarts a crashing service silently; the health gate's deadline decides.
    public func exitReport(_ spec: JailSpec) async -> String? { nil }

    public func promote(_ spec: JailSpec, replacing old: JailSpec?) async throws {
        try await executor.execute(promotePlan(spec, replacing: old))
    }
}
