import FoundationEssentials
import Glibc
import JailPilotCore

/// How a build is confined, as a command that wraps the build's own (Linux: bubblewrap).
///
/// A commit is input from outside. Its build runs as a dedicated unprivileged user, with no new
/// privileges, in fresh mount, pid, ipc and uts namespaces that see only: /usr (the system and
/// the Go toolchain) and the few /etc files name resolution and TLS need, read-only; the staging
/// directory (the exported tree, scratch and output); and the Go caches. Nothing else of the host
/// exists there: not /root, /home, /var, the state_dir, other apps' trees or the jails. Paths keep
/// their host names inside, so `{out}` and the caches mean the same on both sides.
/// Without network (`build_network = false`) it also gets a network namespace of its own with
/// only a loopback; with network, `BuildNetworkPolicy` keeps it from the host and the jails.
public struct BuildSandbox: BuildConfinement, Equatable {
    public var account: BuildAccount
    /// The jails' network, which a build with network access may not reach.
    public var jailNetwork: IPv4Network?
    /// Names this state_dir's nftables table and holds its rules file.
    public var stateDir: String
    public let runner: any ProcessRunning

    public init(account: BuildAccount, jailNetwork: IPv4Network?, stateDir: String, runner: any ProcessRunning) {
        self.account = account
        self.jailNetwork = jailNetwork
        self.stateDir = stateDir
        self.runner = runner
    }

    public static func == (a: BuildSandbox, b: BuildSandbox) -> Bool {
        a.account == b.account && a.jailNetwork == b.jailNetwork && a.stateDir == b.stateDir
    }

    public var uid: uid_t { account.uid }
    public var gid: gid_t { account.gid }

    /// A build with network gets the nftables rules that keep it off the host and the jails.
    public func prepare(_ scope: BuildScope) async throws {
        guard scope.network else { return }
        try await BuildNetworkPolicy(uid: uid, jails: jailNetwork, stateDir: stateDir).apply(runner: runner, stateDir: stateDir)
    }

    /// bubblewrap leaves nothing behind: its namespaces die with the build's last process.
    public func teardown(_ scope: BuildScope) async throws {}

    public func summary(_ scope: BuildScope) -> String {
        "bwrap user=\(account.user) network=\(scope.network ? "outside-only" : "none")"
    }

    public func wrap(_ command: Command, _ scope: BuildScope) -> Command {
        wrap(command, writable: scope.writable, readOnly: scope.readOnly, network: scope.network)
    }

    /// Files of /etc a build may read: name resolution and TLS roots for module downloads.
    static let etcFiles = [
        "/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/ssl", "/etc/ca-certificates", "/etc/passwd", "/etc/group",
    ]

    /// `command` wrapped in bubblewrap: `writable` directories are bound read-write at the same
    /// path, `readOnly` ones (a toolchain outside /usr) read-only.
    public func wrap(_ command: Command, writable: [String], readOnly: [String] = [], network: Bool) -> Command {
        var args = ["--ro-bind", "/usr", "/usr"]
        // Merged /usr (Debian 12): /bin, /lib… are symlinks into /usr; elsewhere, real directories.
        for dir in ["/bin", "/sbin", "/lib", "/lib32", "/lib64"] {
            var info = stat()
            guard lstat(dir, &info) == 0 else { continue }
            if (info.st_mode & S_IFMT) == S_IFLNK {
                var buffer = [CChar](repeating: 0, count: 1024)
                let count = readlink(dir, &buffer, 1023)
                guard count > 0 else { continue }
                args += ["--symlink", String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self), dir]
            } else {
                args += ["--ro-bind", dir, dir]
            }
        }
        for file in Self.etcFiles { args += ["--ro-bind-try", file, file] }
        // bwrap mounts in order: the fresh /tmp first, so that binds below it stay visible.
        args += ["--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev"]
        // The directories leading to each bind, readable by the build user: bwrap would make
        // missing ones 0700 root, and the build reaches its tree by absolute paths.
        var made: Set<String> = ["/", "/tmp", "/usr", "/proc", "/dev"]
        for dir in readOnly + writable {
            var ancestor = ""
            for part in dir.split(separator: "/").dropLast() {
                ancestor += "/\(part)"
                if made.insert(ancestor).inserted && !ancestor.hasPrefix("/usr/") {
                    args += ["--perms", "0755", "--dir", ancestor]
                }
            }
        }
        for dir in readOnly where !dir.hasPrefix("/usr/") { args += ["--ro-bind", dir, dir] }
        for dir in writable { args += ["--bind", dir, dir] }
        args += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "build"]
        if !network { args += ["--unshare-net"] }
        // No --die-with-parent: it is tied to the spawning thread, which a thread pool may end
        // mid-build. No --new-session: the build has no terminal, and staying in the runner's
        // process group is what lets a time limit kill the whole sandbox.
        if let directory = command.workingDirectory { args += ["--chdir", directory] }
        // The account's own uid and gid, no supplementary groups, no way back up (setpriv(1)).
        args += [
            "--", "/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", "--no-new-privs",
            "--inh-caps=-all", "--bounding-set=-all", "--",
        ]
        args += [command.executable] + command.arguments
        return Command("bwrap", args, environment: command.environment, workingDirectory: command.workingDirectory)
    }
}

extension BuildSandbox {
    public func hostChecks() async -> [HostCheck] {
        let result = try? await runner.run(Command("bwrap", ["--version"]), timeout: .seconds(10))
        return [
            HostCheck(
                "bubblewrap", ok: result?.succeeded ?? false, result?.stdoutText.trimmedWhitespace ?? "bwrap is not installed",
                fix: "apt-get install bubblewrap")
        ]
    }
}
