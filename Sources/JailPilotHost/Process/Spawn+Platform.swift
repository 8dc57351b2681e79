// The only file that differs by operating system: posix_spawn's handle types are structs on
// glibc and opaque pointers on FreeBSD and Darwin, glibc declares the socket types and
// getrusage's `who` as enum cases where FreeBSD has plain #defines, and only Linux has
// /proc/self/status. Everything else is shared POSIX. (scripts/check-freebsd type-checks the
// FreeBSD side of each #if on Linux.)
//
// Sockets are close-on-exec from their creation (SOCK_CLOEXEC, socket(2) on both systems): a
// jail supervisor the agent spawns must not inherit the resolver's socket, or a killed agent's
// share of the resolver port would live on in it, taking queries nobody answers.
//
// `canImport(Glibc)` does not mean glibc: Swift names FreeBSD's C module Glibc too. What differs
// by C library is tested with `os(Linux)`.
import CSpawn
import JailPilotCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

#if os(FreeBSD)
    /// The socket option under which several processes share one UDP port, each answering some
    /// of its datagrams, so that any one of them may die. FreeBSD's SO_REUSEPORT only shares
    /// multicast and broadcast; SO_REUSEPORT_LB spreads unicast over the sharing sockets by a
    /// hash of the addresses (setsockopt(2)).
    let socketReusePort = SO_REUSEPORT_LB
#else
    /// The socket option under which several processes share one UDP port (Linux's
    /// SO_REUSEPORT spreads datagrams over the sharing sockets of one user, socket(7)).
    let socketReusePort = SO_REUSEPORT
#endif

#if os(Linux)
    /// SOCK_STREAM as the Int32 socket(2) takes (glibc: an enum `__socket_type`), close-on-exec.
    public let socketStream = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
    /// SOCK_DGRAM as the Int32 socket(2) takes, close-on-exec.
    let socketDatagram = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
    typealias SpawnFileActions = posix_spawn_file_actions_t
    typealias SpawnAttributes = posix_spawnattr_t
    private func makeFileActions() -> SpawnFileActions { SpawnFileActions() }
    private func makeAttributes() -> SpawnAttributes { SpawnAttributes() }
#else
    /// SOCK_STREAM as the Int32 socket(2) takes (FreeBSD: `#define SOCK_STREAM 1`), close-on-exec.
    public let socketStream = SOCK_STREAM | SOCK_CLOEXEC
    /// SOCK_DGRAM as the Int32 socket(2) takes, close-on-exec.
    let socketDatagram = SOCK_DGRAM | SOCK_CLOEXEC
    typealias SpawnFileActions = posix_spawn_file_actions_t?
    typealias SpawnAttributes = posix_spawnattr_t?
    private func makeFileActions() -> SpawnFileActions { nil }
    private func makeAttributes() -> SpawnAttributes { nil }
#endif

#if os(Linux)
    /// getrusage(2)'s `who` as the Int32 it takes (glibc: an enum `__rusage_who`).
    private let rusageSelf = __rusage_who_t(RUSAGE_SELF.rawValue)
    private let rusageChildren = __rusage_who_t(RUSAGE_CHILDREN.rawValue)
#else
    /// getrusage(2)'s `who` (FreeBSD: `#define RUSAGE_SELF 0`).
    private let rusageSelf = RUSAGE_SELF
    private let rusageChildren = RUSAGE_CHILDREN
#endif

/// getrusage(2) of this process, or of its reaped children.
public func resourceUsage(children: Bool = false) -> rusage {
    var usage = rusage()
    getrusage(children ? rusageChildren : rusageSelf, &usage)
    return usage
}

/// This process's memory in KiB, for leak checks; -1 when it cannot be read. On Linux its
/// anonymous resident memory (RssAnon in /proc/self/status), which falls again when memory is
/// freed; FreeBSD mounts no /proc by default, so there its peak resident size (getrusage's
/// ru_maxrss, in KiB on both systems), which only grows, but grows with a leak.
public func leakCheckMemoryKiB() -> Int {
    #if os(Linux)
        let status = (try? FileIO.readText("/proc/self/status")) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("RssAnon:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    #else
        return Int(resourceUsage().ru_maxrss)
    #endif
}

/// Low-level spawn: a new process group, default signal handling, the given fds as stdio.
enum Spawn {
    /// Starts `path` with `argv` and `env`; returns the pid or the errno of the failure.
    static func start(
        path: String, argv: [String], env: [String], directory: String?,
        stdin: Int32, stdout: Int32, stderr: Int32
    ) -> Result<pid_t, SpawnErrno> {
        var actions = makeFileActions()
        var attributes = makeAttributes()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        if let directory {
            let rc = jp_spawn_addchdir(&actions, directory)
            if rc != 0 { return .failure(SpawnErrno(code: rc)) }
        }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        let flags = Int32(POSIX_SPAWN_SETPGROUP) | Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF)
        posix_spawnattr_setflags(&attributes, Int16(truncatingIfNeeded: flags))

        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup($0) } + [nil]
        defer {
            cArgv.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid = pid_t()
        let rc = posix_spawn(&pid, path, &actions, &attributes, cArgv, cEnv)
        return rc == 0 ? .success(pid) : .failure(SpawnErrno(code: rc))
    }
}

/// An errno from a failed spawn.
struct SpawnErrno: Error { var code: Int32 }
