import FoundationEssentials
import Glibc

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
public struct BuildSandbox: Sendable, Equatable {
    /// The account builds run as (resolved to numbers once).
    public var user: String
    public var uid: uid_t
    public var gid: gid_t

    /// The sandbox for `user`, or an error saying how to create the account.
    public static func resolve(user: String) throws -> BuildSandbox {
        guard let entry = getpwnam(user) else { throw BuildSandboxError.noUser(user) }
        guard entry.pointee.pw_uid != 0 else { throw BuildSandboxError.rootUser(user) }
        return BuildSandbox(user: user, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
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

    /// Gives `paths` (and everything below them) to the build user, so the build can write there.
    public func own(_ paths: [String]) throws {
        for path in paths { try Self.chownTree(path, uid, gid) }
    }

    /// `own` for directories that last from build to build (the caches): walked only when the
    /// top is not the build user's yet (first use, or made before the sandbox), since what the
    /// build itself adds there is its own already.
    public func ownOnce(_ paths: [String]) throws {
        for path in paths {
            var info = stat()
            if lstat(path, &info) == 0, info.st_uid == uid, info.st_gid == gid { continue }
            try Self.chownTree(path, uid, gid)
        }
    }

    /// lchown over a tree, never following a symlink (the tree came from a commit).
    static func chownTree(_ path: String, _ uid: uid_t, _ gid: gid_t) throws {
        guard lchown(path, uid, gid) == 0 else { throw FileIOError(operation: "lchown", path: path, code: errno) }
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, let dir = opendir(path) else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            try chownTree("\(path)/\(name)", uid, gid)
        }
    }
}

/// The build sandbox cannot be set up; nothing was built.
public enum BuildSandboxError: Error, Sendable, CustomStringConvertible {
    case noUser(String)
    case rootUser(String)

    public var description: String {
        switch self {
        case .noUser(let user):
            return
                "build_user '\(user)' does not exist; create it (scripts/bootstrap-linux-host does: useradd --system --no-create-home --shell /usr/sbin/nologin \(user)) or set build_sandbox = false"
        case .rootUser(let user): return "build_user '\(user)' is root; builds must run as an unprivileged account"
        }
    }
}
