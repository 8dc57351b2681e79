import FoundationEssentials

/// The jails rc.d/jail starts at boot: the live releases, in a file of this state_dir's own.
///
/// rc.d/jail starts `${jail_list:-_ALL}` (libexec/rc/rc.d/jail, last lines), and load_rc_config
/// sources every file in /etc/rc.conf.d/jail/ when that is a directory (libexec/rc/rc.subr,
/// load_rc_config). So each state_dir owns `/etc/rc.conf.d/jail/jailpilot_<id>`, which appends its
/// live releases to whatever the operator lists in rc.conf: their own jails keep starting. The
/// file is rewritten whole and atomically, under a lock, from the current list; the agent
/// rewrites it from its store at start (`syncBootList`). `sysrc jail_list+=` would edit rc.conf
/// without a lock and exit 0 when its write fails.
extension FreeBSDJails {
    var bootListDir: String { "\(paths.rcConfDir)/jail" }
    var bootListFile: String { "\(bootListDir)/jailpilot_\(owner.id)" }
    var bootListLock: String { "\(owner.stateDir)/bootlist.lock" }

    /// The release names the file lists now (empty when it does not exist).
    func bootList() -> [String] {
        guard let text = try? FileIO.readText(bootListFile) else { return [] }
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("jail_list=") }) else { return [] }
        return line.dropFirst("jail_list=\"${jail_list}".count).dropLast().split(separator: " ").map(String.init)
    }

    /// The write that adds `name` and drops `removing`, keeping the others in order.
    func bootListStep(adding name: String?, removing: [String]) -> HostStep {
        var names = bootList().filter { !removing.contains($0) && $0 != name }
        if let name { names.append(name) }
        return .write(path: bootListFile, content: FreeBSDFiles.bootList(names, stateDir: owner.stateDir), mode: 0o644)
    }

    /// Runs `body` holding this state_dir's boot-list lock, after checking the directory is usable.
    func withBootList<T>(_ body: () async throws -> T) async throws -> T {
        if FileIO.exists(bootListDir), !FileIO.isDirectory(bootListDir) {
            throw HostStepError(
                step: "boot list \(bootListFile)",
                message:
                    "\(bootListDir) is a file; rc.subr reads either that file or a directory of that name. Move its lines to \(bootListDir)/local (mkdir \(bootListDir) first), then retry"
            )
        }
        try FileIO.makeDirectories(owner.stateDir, mode: 0o750)
        return try await LockFile.withExclusive(bootListLock, body)
    }

    /// Rewrites the boot list to exactly `live` (the store's live releases), under the lock.
    public func syncBootList(_ live: [JailSpec]) async throws {
        try await withBootList {
            let names = live.map(\.name).sorted()
            guard names != bootList().sorted() || !FileIO.exists(bootListFile) else { return }
            try await executor.execute(
                .write(path: bootListFile, content: FreeBSDFiles.bootList(names, stateDir: owner.stateDir), mode: 0o644))
        }
    }
}
