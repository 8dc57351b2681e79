import Glibc
import JailPilotCore
import Synchronization

/// FreeBSD builds run in a jail of their own, cloned from the build template (the seed's way of
/// isolating apps, applied to builds): `<dataset>/templates/<build_template>@base`, a base system
/// with the Go toolchain that bootstrap-freebsd-host makes. Per build:
/// - `zfs clone` into `<dataset>/builds/`, marked with this state_dir's owner;
/// - the build's staging directory and caches nullfs-mounted at their own paths (jail.conf(5)
///   `mount`, fstab(5) lines), so `{out}` and the caches mean the same inside and out;
/// - a persistent jail with devfs ruleset 4 and either no IPv4 at all (`build_network = false`)
///   or the one build address of the jails' network, which the pf policy treats as a jail with
///   no `reach`: the outside through NAT, nothing on the host or in other jails;
/// - the build runs through jexec(8) as the build user, taken from the host's passwd (`-u`);
/// - afterwards, whatever happened: `jail -r` kills what is left (stop.timeout = 0) and
///   unmounts, the removed jail is waited for until the kernel has freed it (it stays dying while
///   its TCP connections sit in TIME_WAIT), then the clone is destroyed. The build's address is
///   given back whatever the teardown did.
/// Nothing of the host is visible: not /usr/local (its /etc holds agent.conf and app secrets),
/// not the state_dir, not other apps' trees, not the release jails.
public struct FreeBSDBuildJail: BuildConfinement {
    public var account: BuildAccount
    public let settings: JailSettings
    /// The build template's name under `<dataset>/templates/`.
    public let template: String
    public let owner: OwnerID
    public let runner: any ProcessRunning
    /// Where the build jails' jail.conf files go (root's, beside the staging directories).
    public let confDir: String
    /// How many builds may run at once (`max_parallel_builds`): the build addresses reserved.
    public var parallelBuilds: Int = 1
    /// The jail-net helper a VNET build jail with network runs (FreeBSDPaths.netHelper).
    public var netHelper: String = FreeBSDPaths().netHelper
    /// How the build jail is networked: as the releases are (`[jails] network_mode`).
    var network: FreeBSDJailNetwork {
        FreeBSDJailNetwork(
            mode: settings.networkMode, interface: settings.interface, network: settings.network, helper: netHelper)
    }
    /// The first pause between destroy attempts while the clone is busy.
    public var retryPause: Duration = .milliseconds(250)

    public init(
        account: BuildAccount, settings: JailSettings, template: String, owner: OwnerID, runner: any ProcessRunning,
        confDir: String
    ) {
        self.account = account
        self.settings = settings
        self.template = template
        self.owner = owner
        self.runner = runner
        self.confDir = confDir
    }

    public var uid: uid_t { account.uid }
    public var gid: gid_t { account.gid }

    /// The addresses build jails with network take, one per build running at once: the last
    /// `count` of the jails' network, which AddressPool never gives a release. Each build holds
    /// its own, because jail(8) adds the address to `interface` at create and removes it at
    /// remove: a shared one would vanish under the other builds.
    public static func addresses(in network: IPv4Network, count: Int) -> [String] {
        let last = network.hostCount
        return (max(2, last - count + 1)...max(2, last)).compactMap { network.host($0) }
    }

    /// Builds of this process holding an address: the flock on `<confDir>/addresses/<address>`
    /// is what makes it theirs, across processes too (a `jailpilot deploy` beside the agent),
    /// and the kernel drops it if the process dies.
    private static let leases = Mutex<[String: (address: String, lock: LockFile)]>([:])

    var addressPool: [String] { Self.addresses(in: settings.network, count: parallelBuilds) }

    /// `jailpilot_build_<app>_<sha12>_<random>`: jail names are letters, digits and `_` here.
    func name(_ scope: BuildScope) -> String {
        "jailpilot_build_" + String(scope.id.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
    }
    func dataset(_ scope: BuildScope) -> String { "\(settings.dataset)/builds/\(name(scope))" }
    func root(_ scope: BuildScope) -> String { "\(settings.mountpoint)/builds/\(name(scope))" }
    func conf(_ scope: BuildScope) -> String { "\(confDir)/\(name(scope)).conf" }
    var snapshot: String { "\(settings.dataset)/templates/\(template)@base" }

    /// Everything up to the running jail, as `jailpilot plan` prints it; `address` is the build's
    /// own when it may use the network.
    public func setupPlan(_ scope: BuildScope, address: String?) -> [HostStep] {
        let root = self.root(scope)
        let mountPoints = (scope.writable + scope.readOnly).map { root + $0 }
        return [
            // quota: what the build writes into the clone itself (its tree and caches are mounted).
            .run(
                Command(
                    "zfs",
                    [
                        "clone", "-o", "\(FreeBSDJails.ownerProperty)=\(owner.marker)", "-o", "quota=\(settings.limits.disk)",
                        snapshot, dataset(scope),
                    ])),
            // mount(8) needs the mount points; the clone is fresh and the build has not run yet.
            .run(Command("mkdir", ["-p"] + mountPoints)),
        ]
            + (address != nil && settings.networkMode == .vnet
                ? [.write(path: netHelper, content: FreeBSDJailNetwork.helperScript, mode: 0o755)] : []) + [
                .write(path: conf(scope), content: jailConf(scope, address: address), mode: 0o600),
                .run(Command("jail", ["-f", conf(scope), "-c", name(scope)])),
            ]
    }

    /// What removes it all again; every step runs even when an earlier one failed, except the
    /// destroy after a jail that did not go.
    public func teardownPlan(_ scope: BuildScope) -> [HostStep] {
        [
            .run(Command("jail", ["-f", conf(scope), "-r", name(scope)]), mayFail: true),
            FreeBSDJails.waitGone(
                name(scope), dataset: dataset(scope),
                then: "the agent's next start removes it (Builder.reclaimAbandoned; the build's staging directory marks it)"),
            .retry(Command("zfs", ["destroy", "-r", dataset(scope)]), attempts: 8, busy: FreeBSDJails.busy),
            .run(Command("rm", ["-f", conf(scope)])),
        ]
    }

    /// The whole life of one build jail around `command`, for `jailpilot plan` and golden tests.
    public func plan(_ command: Command, _ scope: BuildScope) -> [HostStep] {
        setupPlan(scope, address: scope.network ? addressPool.first : nil) + [.run(wrap(command, scope))] + teardownPlan(scope)
    }

    /// The build jail's jail.conf(5).
    func jailConf(_ scope: BuildScope, address: String?) -> String {
        let q = FreeBSDFiles.jailQuote
        let root = self.root(scope)
        // `ip6 = "disable"` only in the host's own stack: kern_jail_set refuses any address
        // restriction on a VNET jail ("vnet jails cannot have IP address restrictions"), whose
        // IPv6 pf blocks at its epair instead.
        let lines =
            (settings.networkMode == .alias ? ["ip6 = \"disable\";"] : [])
            + self.network.confLines(address: address, startsRC: false)
        let network = lines.map { "    \($0)\n" }.joined()
        let mounts = scope.writable.map { (dir: $0, mode: "rw") } + scope.readOnly.map { (dir: $0, mode: "ro") }
        return """
            # Written by jailpilot for one build (\(scope.id)); removed with the build jail.
            \(name(scope)) {
                path = \(q(root));
                host.hostname = "build";
                persist;
                # jail -r kills every process at once: nothing outlives the build.
                stop.timeout = 0;
                mount.devfs;
                devfs_ruleset = 4;
            \(network)\(mounts.map { "    mount += \(q(Self.fstabLine(source: $0.dir, target: root + $0.dir, mode: $0.mode)));\n" }.joined())}

            """
    }

    /// One fstab(5) line: fields are separated by blanks, so a blank in a path is written `\040`.
    static func fstabLine(source: String, target: String, mode: String) -> String {
        func field(_ path: String) -> String {
            path.replacing("\\", with: "\\134").replacing(" ", with: "\\040").replacing("\t", with: "\\011")
        }
        return "\(field(source)) \(field(target)) nullfs \(mode) 0 0"
    }

    /// jexec(8) runs the command in the jail as the build user (`-u`: looked up in the host's
    /// passwd before jail_attach), in the build's own directory. The environment passes through,
    /// but setusercontext(3) sets PATH from the login class, so PATH and HOME are given again.
    ///
    /// 14.3-RELEASE's jexec has no `-d`: it takes `-l`, `-u` and `-U` only and changes to the
    /// jail's `/` (usr.sbin/jexec/jexec.c; `-d` came with a 2026 revision of jexec(8)). A fixed
    /// sh program changes into the directory, which comes as an argument, never as shell text.
    public func wrap(_ command: Command, _ scope: BuildScope) -> Command {
        var args = ["-u", account.user, name(scope)] + Self.inDirectory(command.workingDirectory ?? "/") + ["/usr/bin/env"]
        for key in ["PATH", "HOME"] { if let value = command.environment?[key] { args.append("\(key)=\(value)") } }
        args += [command.executable] + command.arguments
        return Command("jexec", args, environment: command.environment, workingDirectory: command.workingDirectory)
    }

    /// `/bin/sh -c 'cd "$1" || exit 125; shift; exec "$@"' jailpilot-cd DIR`, then the command: runs
    /// it in DIR on any jexec(8).
    static func inDirectory(_ directory: String) -> [String] {
        ["/bin/sh", "-c", "cd \"$1\" || exit 125; shift; exec \"$@\"", "jailpilot-cd", directory]
    }

    public func prepare(_ scope: BuildScope) async throws {
        do {
            let address = scope.network ? try await lease(scope) : nil
            try await PlanExecutor(runner: runner, retryPause: retryPause).execute(setupPlan(scope, address: address))
        } catch {
            try? await teardown(scope)
            throw error as? BuildJailError ?? BuildJailError(snapshot: snapshot, detail: "\(error)")
        }
    }

    /// Removes the jail, waits until the kernel has freed it, destroys the clone; the build's
    /// address is given back whatever happens (a lease kept would refuse every networked build
    /// until the agent restarts). Once the jail is gone nothing of the build runs any more: a
    /// clone that cannot be destroyed then is a `BuildLeftover` (the build's result stands; the
    /// agent's start-up sweep removes it). A jail still running is an error of its own.
    public func teardown(_ scope: BuildScope) async throws {
        defer { Self.leases.withLock { $0.removeValue(forKey: scope.id) }?.lock.release() }
        let executor = PlanExecutor(runner: runner, retryPause: retryPause)
        var failure: Error?
        for step in teardownPlan(scope) {
            switch step {
            case .waitWhile, .retry:
                // Nothing to wait for or destroy once the clone is gone; no destroy after a failed wait.
                if failure != nil { continue }
                if !(await exists(scope)) { continue }
            default: break
            }
            do { try await executor.execute(step) } catch { failure = failure ?? error }
        }
        if await isRunning(scope) {
            throw HostStepError(
                step: "jail -r \(name(scope))",
                message:
                    "the build jail is still running after its removal\(failure.map { " (\($0))" } ?? ""); what the build started may still change its tree, so the build is not used: remove it with `jail -r \(name(scope))`, and the agent's next start removes the rest"
            )
        }
        if let failure {
            throw BuildLeftover(
                jail: name(scope), detail: "\(failure)",
                fix:
                    "nothing of the build runs any more; the agent's next start removes \(dataset(scope)) (or `zfs destroy -r \(dataset(scope))` once `jls -d -j \(name(scope))` lists nothing)"
            )
        }
    }

    /// Takes a free build address for `scope`, or says that all are in use once they have
    /// stayed held for `LockFile.patience` (a build's address just given back can look held
    /// while another task's spawning child holds a copy of its flock).
    public func lease(_ scope: BuildScope) async throws -> String {
        let deadline = ContinuousClock.now + LockFile.patience
        repeat {
            for address in addressPool {
                guard case .success(let lock) = try LockFile.acquire("\(confDir)/addresses/\(address).lock") else { continue }
                Self.leases.withLock { $0[scope.id] = (address, lock) }
                return address
            }
            try await Task.sleep(for: .milliseconds(10))
        } while ContinuousClock.now < deadline
        throw BuildJailError(
            snapshot: snapshot,
            detail: "all \(addressPool.count) build addresses (\(addressPool.joined(separator: ", "))) are held by running builds"
        )
    }

    /// Whether the build jail is running (`jls -j` fails for a removed jail, dying or not).
    func isRunning(_ scope: BuildScope) async -> Bool {
        (try? await runner.run(Command("jls", ["-j", name(scope), "jid"]), timeout: .seconds(10)))?.succeeded ?? false
    }

    func exists(_ scope: BuildScope) async -> Bool {
        (try? await runner.run(Command("zfs", ["list", "-H", "-o", "name", dataset(scope)]), timeout: .seconds(10)))?.succeeded
            ?? false
    }

    public func summary(_ scope: BuildScope) -> String {
        "jail=\(name(scope)) user=\(account.user) network=\(scope.network ? "outside-only" : "none")"
    }
}

/// The build jail could not be made; nothing was built.
public struct BuildJailError: Error, Sendable, CustomStringConvertible {
    public var snapshot: String
    public var detail: String
    public var description: String {
        "cannot make the build jail from \(snapshot): \(detail); scripts/bootstrap-freebsd-host makes the build template and <dataset>/builds (or set build_sandbox = false)"
    }
}

/// Test access to the fstab(5) line writer.
public enum FreeBSDBuildJailProbe {
    public static func fstab(_ source: String, _ target: String) -> String {
        FreeBSDBuildJail.fstabLine(source: source, target: target, mode: "rw")
    }
}

extension FreeBSDBuildJail {
    /// The build template's root: build_path names directories inside it (its Go is the
    /// template's, `pkg --rootdir` installs another).
    public var toolchainRoot: String { "\(settings.mountpoint)/templates/\(template)" }

    /// The build template's snapshot, the Go inside it, and the parent dataset of build jails.
    public func hostChecks() async -> [HostCheck] {
        func succeeds(_ arguments: [String]) async -> Bool {
            (try? await runner.run(Command("zfs", arguments), timeout: .seconds(10)))?.succeeded ?? false
        }
        let go = "\(settings.mountpoint)/templates/\(template)/usr/local/bin/go"
        let fix = "\(FreeBSDJails.bootstrap) (it makes \(snapshot) with Go from packages)"
        return [
            HostCheck(
                "build template", ok: await succeeds(["list", "-H", "-t", "snapshot", "-o", "name", snapshot]), snapshot, fix: fix
            ),
            HostCheck("go in the build template", ok: FileIO.exists(go), go, fix: fix),
            HostCheck(
                "builds dataset", ok: await succeeds(["list", "-H", "-o", "name", "\(settings.dataset)/builds"]),
                "\(settings.dataset)/builds", fix: fix),
        ]
    }
}
