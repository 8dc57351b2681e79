import JailPilotCore

/// Persistent data on FreeBSD: a ZFS dataset per app, `<dataset>/data/<app>` (marked with
/// `jailpilot:owner` like the clones), nullfs-mounted read-write into every release's jail by
/// its jail.conf `mount +=` line; snapshots are `<dataset>/data/<app>@<sha12>-<time>`.
extension FreeBSDJails {
    func dataDataset(_ app: String) -> String { "\(settings.dataset)/data/\(app)" }
    /// Mounted where the parent dataset's mountpoint puts it (inherited, zfsprops(7) `mountpoint`).
    func dataMount(_ app: String) -> String { "\(settings.mountpoint)/data/\(app)" }
    func releaseScript(_ service: String) -> String { "/usr/local/libexec/jailpilot/\(service).release" }

    public func dataPlan(app: String) -> [HostStep] {
        [
            // -p: the parent if missing, success if it exists (zfs-create(8)); no -o with it, as
            // zfs-create(8) says -p ignores the -o properties.
            .run(Command("zfs", ["create", "-p", "\(settings.dataset)/data"])),
            .run(Command("zfs", ["create", "-o", "\(Self.ownerProperty)=\(owner.marker)", dataDataset(app)])),
            .run(Command("chown", ["\(AppUser.uid):\(AppUser.gid)", dataMount(app)])),
            .run(Command("chmod", ["700", dataMount(app)])),
        ]
    }

    public func dataSteps(app: String) async -> [HostStep] {
        // The dataset exists when zfs-get(8) answers a value for it ("-" when the property is unset).
        let result = try? await runner.run(
            Command("zfs", ["get", "-H", "-o", "value", Self.ownerProperty, dataDataset(app)]), timeout: .seconds(30))
        return result.map { $0.succeeded && !$0.stdoutText.trimmedWhitespace.isEmpty } == true ? [] : dataPlan(app: app)
    }

    public func ensureData(app: String) async throws {
        let result = try await runner.run(
            Command("zfs", ["get", "-H", "-o", "value", Self.ownerProperty, dataDataset(app)]), timeout: .seconds(30))
        if result.succeeded {
            let found = result.stdoutText.trimmedWhitespace
            guard found == owner.marker else {
                throw DataOwnershipError(app: app, volume: dataDataset(app), found: found == "-" ? "" : found)
            }
            return
        }
        try await executor.execute(dataPlan(app: app))
    }

    public func snapshotPlan(app: String, name: String) -> [HostStep] {
        [.run(Command("zfs", ["snapshot", "\(dataDataset(app))@\(name)"]))]
    }

    public func snapshotData(app: String, name: String) async throws {
        try await executor.execute(snapshotPlan(app: app, name: name))
    }

    public func hasSnapshot(app: String, name: String) async -> Bool {
        (try? await runner.run(
            Command("zfs", ["list", "-H", "-o", "name", "-t", "snapshot", "\(dataDataset(app))@\(name)"]), timeout: .seconds(30)))?
            .succeeded ?? false
    }

    public func destroySnapshotSteps(app: String, name: String) async -> [HostStep] {
        guard await hasSnapshot(app: app, name: name) else { return [] }
        return [.run(Command("zfs", ["destroy", "\(dataDataset(app))@\(name)"]))]
    }

    public func destroySnapshot(app: String, name: String) async throws {
        try await executor.execute(await destroySnapshotSteps(app: app, name: name))
    }

    /// zfs-rollback(8): `-r` destroys the snapshots newer than the target, which a rollback to an
    /// older one otherwise refuses; the dataset is unmounted and remounted around it, so every
    /// jail that nullfs-mounts it is stopped first (jail -r unmounts its `mount` lines).
    public func restorePlan(app: String, name: String, newer: [String]) -> [HostStep] {
        (newer.isEmpty ? [] : [.note("destroys the newer snapshots: \(newer.joined(separator: " "))")]) + [
            .run(Command("zfs", ["rollback", "-r", "\(dataDataset(app))@\(name)"]))
        ]
    }

    public func restoreData(app: String, name: String, newer: [String]) async throws {
        try await executor.execute(restorePlan(app: app, name: name, newer: newer))
    }

    /// jexec(8) as root in the jail (`-U`: the jail's own passwd), in a clean environment, in the
    /// jail's `/` (jexec's own chdir; 14.3's jexec has no `-d`); the script sources the app's
    /// root-only environment, then drops to nobody with chroot(8) to `/`.
    public func releaseStepPlan(_ spec: JailSpec, argv: [String]) -> [HostStep] {
        [
            .write(path: root(spec.name) + releaseScript(spec.service), content: releaseStepScript(spec), mode: 0o700),
            .run(releaseStepCommand(spec, argv: argv)),
        ]
    }

    func releaseStepCommand(_ spec: JailSpec, argv: [String]) -> Command {
        Command(
            "jexec",
            [
                "-U", "root", spec.name, "/usr/bin/env", "-i",
                "PATH=/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin", "HOME=/", "/bin/sh",
                releaseScript(spec.service),
            ] + argv)
    }

    func releaseStepScript(_ spec: JailSpec) -> String {
        let data = spec.data.map { " JAILPILOT_DATA=\(ShellQuote.quote($0))" } ?? ""
        return """
            #!/bin/sh
            # jailpilot release step for \(spec.name); its arguments are the step's argv.
            envfile="/usr/local/etc/jailpilot/\(spec.service).env"
            if [ -f "$envfile" ]; then set -a; . "$envfile" || exit 1; set +a; fi
            export PORT=\(spec.port) JAILPILOT_APP=\(spec.app) JAILPILOT_SHA=\(spec.sha)\(data)
            # chroot(8) to / only to drop to nobody, with nobody's own group (65534) as daemon -u
            # gives the app: without -G the process keeps root's supplementary groups, since
            # chroot calls setgroups(2) for -G alone (usr.sbin/chroot/chroot.c).
            exec /usr/sbin/chroot -G nobody -g nobody -u nobody / "$@"

            """
    }

    public func runReleaseStep(_ spec: JailSpec, argv: [String], timeout: Duration) async throws -> ProcessResult {
        guard await isRunning(spec) else {
            throw HostStepError(step: "release step of \(spec.name)", message: "the jail is not running")
        }
        let plan = releaseStepPlan(spec, argv: argv)
        try await executor.execute(Array(plan.prefix(1)))
        for step in plan.dropFirst() { recorder?.record(step) }
        let log = logPath(spec)
        return try await runner.run(
            releaseStepCommand(spec, argv: argv), stdout: .append(path: log), stderr: .append(path: log), timeout: timeout)
    }
}

extension FreeBSDJails {
    /// `zfs destroy -r`: the dataset and its snapshots, its children (zfs-destroy(8): "a
    /// recursive destroy also destroys snapshots"); no clone is ever made of a data snapshot.
    public func destroyDataSteps(app: String) async -> [HostStep] {
        let result = try? await runner.run(
            Command("zfs", ["get", "-H", "-o", "value", Self.ownerProperty, dataDataset(app)]), timeout: .seconds(30))
        guard result?.succeeded == true else { return [] }
        return [.run(Command("zfs", ["destroy", "-r", dataDataset(app)]))]
    }

    public func destroyData(app: String) async throws {
        let result = try await runner.run(
            Command("zfs", ["get", "-H", "-o", "value", Self.ownerProperty, dataDataset(app)]), timeout: .seconds(30))
        guard result.succeeded else { return }
        let found = result.stdoutText.trimmedWhitespace
        guard found == owner.marker else {
            throw DataOwnershipError(app: app, volume: dataDataset(app), found: found == "-" ? "" : found)
        }
        try await executor.execute(await destroyDataSteps(app: app))
    }
}
