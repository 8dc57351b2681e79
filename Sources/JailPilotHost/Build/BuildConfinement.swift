import Glibc
import JailPilotCore

/// What one build is given: its staging directory and caches (read-write), extra toolchain
/// directories (read-only), and whether it may use the network.
public struct BuildScope: Sendable, Equatable {
    /// Unique per build (staging directory name): names the FreeBSD build jail.
    public var id: String
    public var writable: [String]
    public var readOnly: [String]
    public var network: Bool

    public init(id: String, writable: [String], readOnly: [String] = [], network: Bool) {
        self.id = id
        self.writable = writable
        self.readOnly = readOnly
        self.network = network
    }
}

/// How builds are confined (Linux: bubblewrap, `BuildSandbox`; FreeBSD: a build jail cloned
/// from the build template, `FreeBSDBuildJail`). A commit is input from outside: its build runs
/// as an unprivileged account and sees only its tree, its caches and a toolchain.
public protocol BuildConfinement: Sendable {
    /// The account builds run as; the build's tree and caches are given to it.
    var uid: uid_t { get }
    var gid: gid_t { get }
    /// Puts in place what the build needs before it runs (network rules, the build jail).
    func prepare(_ scope: BuildScope) async throws
    /// The build's command, made to run confined.
    func wrap(_ command: Command, _ scope: BuildScope) -> Command
    /// Removes what `prepare` made and anything the build left running; called whatever happened.
    /// Throws `BuildLeftover` when nothing of the build runs any more but something is left.
    func teardown(_ scope: BuildScope) async throws
    /// A few words for the log: what confines the build.
    func summary(_ scope: BuildScope) -> String
    /// What confined builds need of the host, checked now (`jailpilot doctor`).
    func hostChecks() async -> [HostCheck]
    /// Where build_path's directories are on the host ("" or the FreeBSD build template's root).
    var toolchainRoot: String { get }
}

extension BuildConfinement {
    /// Where the build's toolchain paths are seen from the host: "" where the build sees the
    /// host's own (bubblewrap binds them); the build template's root on FreeBSD.
    public var toolchainRoot: String { "" }

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

/// A build's sandbox is gone as far as the build goes (nothing it started runs any more), but
/// something of it is left on the host, such as a build jail's clone: the build's result stands,
/// and the agent's start-up sweep (`Builder.reclaimAbandoned`) removes the rest.
public struct BuildLeftover: Error, Sendable, CustomStringConvertible {
    /// The sandbox left behind (the build jail's name).
    public var jail: String
    /// What failed.
    public var detail: String
    /// What the operator may do, and what happens by itself.
    public var fix: String

    public init(jail: String, detail: String, fix: String) {
        self.jail = jail
        self.detail = detail
        self.fix = fix
    }

    public var description: String { "\(jail) could not be removed completely: \(detail); \(fix)" }
}

/// The account a confined build runs as, resolved to numbers once.
public struct BuildAccount: Sendable, Equatable {
    public var user: String
    public var uid: uid_t
    public var gid: gid_t

    public init(user: String, uid: uid_t, gid: gid_t) {
        self.user = user
        self.uid = uid
        self.gid = gid
    }

    /// The account called `user`, or an error saying how to create it.
    public static func resolve(user: String, platform: PlatformKind) throws -> BuildAccount {
        guard let entry = getpwnam(user) else { throw BuildSandboxError.noUser(user, platform) }
        guard entry.pointee.pw_uid != 0 else { throw BuildSandboxError.rootUser(user) }
        return BuildAccount(user: user, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }
}

/// The build sandbox cannot be set up; nothing was built.
public enum BuildSandboxError: Error, Sendable, CustomStringConvertible {
    case noUser(String, PlatformKind)
    case rootUser(String)

    public var description: String {
        switch self {
        case .noUser(let user, .linux):
            return
                "build_user '\(user)' does not exist; create it (scripts/bootstrap-linux-host does: useradd --system --no-create-home --shell /usr/sbin/nologin \(user)) or set build_sandbox = false"
        case .noUser(let user, .freebsd):
            return
                "build_user '\(user)' does not exist; create it (scripts/bootstrap-freebsd-host does: pw useradd \(user) -d /nonexistent -s /usr/sbin/nologin) or set build_sandbox = false"
        case .rootUser(let user): return "build_user '\(user)' is root; builds must run as an unprivileged account"
        }
    }
}
