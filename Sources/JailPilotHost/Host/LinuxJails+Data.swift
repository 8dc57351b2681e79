import FoundationEssentials
import Glibc
import JailPilotCore

/// Persistent data on Linux: a btrfs subvolume per app under `<mountpoint>/data/`, bind-mounted
/// into each release's private mount namespace by its supervisor; read-only snapshots under
/// `data/.snapshots/<app>@<name>`. The owner marker sits beside the volume (`data/.<app>.owner`),
/// outside what the app can see or write.
extension LinuxJails {
    var dataRoot: String { "\(root)/data" }
    func volume(_ app: String) -> String { "\(dataRoot)/\(app)" }
    func snapshotPath(_ app: String, _ name: String) -> String { "\(dataRoot)/.snapshots/\(app)@\(name)" }
    func dataMarker(_ app: String) -> String { "\(dataRoot)/.\(app).owner" }
    func releaseScript(_ name: String) -> String { "\(root)/run/\(name).release.sh" }

    public func dataPlan(app: String) -> [HostStep] {
        let new = "\(dataRoot)/.new-\(app)"
        return [
            .run(Command("mkdir", ["-p", "\(dataRoot)/.snapshots"])),
            .run(Command("btrfs", ["subvolume", "create", new])),
            .run(Command("chown", ["\(AppUser.uid):\(AppUser.gid)", new])),
            .run(Command("chmod", ["700", new])),
            .write(path: dataMarker(app), content: owner.marker + "\n", mode: 0o600),
            .rename(from: new, to: volume(app)),
        ]
    }

    public func dataSteps(app: String) async -> [HostStep] { FileIO.exists(volume(app)) ? [] : dataPlan(app: app) }

    public func ensureData(app: String) async throws {
        let volume = volume(app)
        if FileIO.exists(volume) {
            let found = (try? FileIO.readText(dataMarker(app), lastBytes: 4096))?.trimmedWhitespace ?? ""
            guard found == owner.marker else { throw DataOwnershipError(app: app, volume: volume, found: found) }
            return
        }
        if FileIO.exists("\(dataRoot)/.replaced-\(app)") {
            throw HostStepError(
                step: "data of \(app)",
                message:
                    "a data restore was interrupted: \(volume) is missing and \(dataRoot)/.replaced-\(app) holds the data from before it; move one of \(dataRoot)/.restoring-\(app) or .replaced-\(app) to \(volume) and try again"
            )
        }
        if FileIO.exists("\(dataRoot)/.new-\(app)") {
            try await executor.execute(.run(Command("btrfs", ["subvolume", "delete", "\(dataRoot)/.new-\(app)"])))
        }
        try await executor.execute(dataPlan(app: app))
    }

    public func snapshotPlan(app: String, name: String) -> [HostStep] {
        [.run(Command("btrfs", ["subvolume", "snapshot", "-r", volume(app), snapshotPath(app, name)]))]
    }

    public func snapshotData(app: String, name: String) async throws {
        try await executor.execute(snapshotPlan(app: app, name: name))
    }

    public func hasSnapshot(app: String, name: String) async -> Bool { FileIO.exists(snapshotPath(app, name)) }

    public func destroySnapshotSteps(app: String, name: String) async -> [HostStep] {
        guard FileIO.exists(snapshotPath(app, name)) else { return [] }
        return [.run(Command("btrfs", ["subvolume", "delete", snapshotPath(app, name)]))]
    }

    public func destroySnapshot(app: String, name: String) async throws {
        try await executor.execute(await destroySnapshotSteps(app: app, name: name))
    }

    public func restorePlan(app: String, name: String, newer: [String]) -> [HostStep] {
        let restoring = "\(dataRoot)/.restoring-\(app)"
        let replaced = "\(dataRoot)/.replaced-\(app)"
        return [
            .run(Command("btrfs", ["subvolume", "snapshot", snapshotPath(app, name), restoring])),
            .rename(from: volume(app), to: replaced),
            .rename(from: restoring, to: volume(app)),
            .run(Command("btrfs", ["subvolume", "delete", replaced])),
        ] + newer.map { .run(Command("btrfs", ["subvolume", "delete", snapshotPath(app, $0)]), mayFail: true) }
    }

    public func restoreData(app: String, name: String, newer: [String]) async throws {
        // Left by an attempt that stopped before its swap: the volume itself is still in place.
        if FileIO.exists("\(dataRoot)/.restoring-\(app)"), FileIO.exists(volume(app)) {
            try await executor.execute(.run(Command("btrfs", ["subvolume", "delete", "\(dataRoot)/.restoring-\(app)"])))
        }
        try await executor.execute(restorePlan(app: app, name: name, newer: newer))
    }

    /// The release step enters the jail's namespaces through its pid 1 (the supervisor) and runs
    /// a script that gives it the app's environment and chroots as the app's user.
    public func releaseStepPlan(_ spec: JailSpec, argv: [String]) -> [HostStep] {
        [
            .write(path: releaseScript(spec.name), content: releaseStepScript(spec), mode: 0o700),
            .run(releaseStepCommand(spec, argv: argv, pid: "<pid 1 of \(spec.name)>")),
        ]
    }

    func releaseStepCommand(_ spec: JailSpec, argv: [String], pid: String) -> Command {
        enteringCgroups(
            Command(
                "nsenter",
                ["--target", pid, "--mount", "--pid", "--net", "--uts", "--", "/bin/sh", releaseScript(spec.name)] + argv,
                environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]), spec.name)
    }

    func releaseStepScript(_ spec: JailSpec) -> String {
        """
        #!/bin/sh
        # jailpilot release step for \(spec.name): in the jail's namespaces, as the app's user, with
        # its environment and data. Its arguments are the step's argv.
        root=\(ShellQuote.quote(container(spec.name)))
        exec \(appLaunch(spec)) "$@"

        """
    }

    public func runReleaseStep(_ spec: JailSpec, argv: [String], timeout: Duration) async throws -> ProcessResult {
        // The jail is ready once its pid 1 (the supervisor shell, the first child of unshare) has
        // mounted /dev and the data and set the hostname: it then writes its ready file. A child
        // of pid 1 alone is no sign: it may be one of those mounts.
        var pid1: pid_t?
        let deadline = ContinuousClock.now + readyTimeout
        while pid1 == nil, ContinuousClock.now < deadline {
            if let supervisor = supervisorPid(spec.name), FileIO.exists(readyFile(spec.name)),
                let first = children(of: supervisor).first
            {
                pid1 = first
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        guard let pid1 else {
            throw HostStepError(
                step: "release step of \(spec.name)",
                message:
                    "the jail was not ready (its /dev, data and hostname) within \(DurationText.format(readyTimeout)); see its log"
            )
        }
        let plan = releaseStepPlan(spec, argv: argv)
        try await executor.execute(Array(plan.prefix(1)))
        // Recorded as planned: pid 1's number is known only now.
        for step in plan.dropFirst() { recorder?.record(step) }
        let log = logPath(spec)
        return try await runner.run(
            releaseStepCommand(spec, argv: argv, pid: String(pid1)), stdout: .append(path: log), stderr: .append(path: log),
            timeout: timeout)
    }
}

extension LinuxJails {
    public func destroyDataSteps(app: String) async -> [HostStep] {
        guard FileIO.exists(volume(app)) else { return [] }
        let snapshots = ((try? FileManager.default.contentsOfDirectory(atPath: "\(dataRoot)/.snapshots")) ?? [])
            .filter { $0.hasPrefix("\(app)@") }.sorted()
        return snapshots.map { .run(Command("btrfs", ["subvolume", "delete", "\(dataRoot)/.snapshots/\($0)"])) } + [
            .run(Command("btrfs", ["subvolume", "delete", volume(app)])), .remove(path: dataMarker(app)),
        ]
    }

    public func destroyData(app: String) async throws {
        guard FileIO.exists(volume(app)) else { return }
        let found = (try? FileIO.readText(dataMarker(app), lastBytes: 4096))?.trimmedWhitespace ?? ""
        guard found == owner.marker else { throw DataOwnershipError(app: app, volume: volume(app), found: found) }
        try await executor.execute(await destroyDataSteps(app: app))
    }
}
