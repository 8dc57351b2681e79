import Foundation
import JailPilot

/// A removed jail that the kernel has not freed yet. A jail whose processes closed TCP
/// connections stays referenced by their sockets while they sit in TIME_WAIT (2×MSL, 60 s by
/// default: TCPTV_MSL in sys/netinet/tcp_timer.h, net.inet.tcp.msl), and keeps its root until
/// then. Time-based: `dyingFor` after `jail -r`, whatever the commands run meanwhile.
struct DyingJail {
    var path: String
    var jid: Int
    var until: ContinuousClock.Instant
}

/// jls(8) and the dying jails it sees; caller holds the lock.
extension FreeBSDStandIn {
    /// The jails removed but still dying now; the ones whose time has passed are freed.
    func stillDying() -> [String: DyingJail] {
        dying = dying.filter { $0.value.until > .now }
        return dying
    }

    /// Whether a dying jail holds `path` as its root (its dataset cannot be unmounted).
    func holds(_ path: String) -> Bool { stillDying().values.contains { $0.path == path } }

    /// `jls [-d] -j NAME jid`, as usr.sbin/jls/jls.c does it: `-d` adds JAIL_DYING to the
    /// jail_get(2) flags, so a dying jail is listed too; without it, kern_jail_get
    /// (sys/kern/kern_jail.c) refuses a dying jail with `jail "NAME" is dying` and an unknown one
    /// with `jail "NAME" not found`, which jls prints with xo_errx, exit 1. With a parameter
    /// named, jls prints its value alone on a line.
    func jls(_ argv: [String]) -> ProcessResult {
        var args = argv
        let withDying = args.first == "-d"
        if withDying { args.removeFirst() }
        guard args.count == 3, args[0] == "-j", args[2] == "jid" else {
            return fail("usage: jls [-dhNnqv] [-j jail] [param ...]")
        }
        let name = args[1]
        if let jail = jails[name] { return ok("\(jail.jid)\n") }
        if let dead = stillDying()[name] {
            return withDying ? ok("\(dead.jid)\n") : fail("jls: jail \"\(name)\" is dying")
        }
        return fail("jls: jail \"\(name)\" not found")
    }
}
