import JailPilotCore

/// What stopping and removing a jail takes on FreeBSD: the time `jail -r` may run, and the wait
/// for a removed jail to be really gone before its dataset can be destroyed.
extension FreeBSDJails {
    /// How long a removed jail may stay dying before its destroy gives up. A jail whose processes
    /// closed TCP connections stays referenced by their sockets in TIME_WAIT for 2×MSL (TCPTV_MSL
    /// is 30 s, sys/netinet/tcp_timer.h; sysctl net.inet.tcp.msl), and keeps its root with it, so
    /// `zfs destroy` fails "pool or dataset is busy" until then: 60 s by default, plus a margin
    /// for connections that close while `jail -r` runs.
    public static let dyingBudget: Duration = .seconds(90)

    /// How long a release's `jail -r` may run, or nil where the executor's default is enough:
    /// exec.stop runs /etc/rc.shutdown, whose rc.d script waits up to `drain` for the service
    /// (FreeBSDFiles.rcScript); jail(8) then sends SIGTERM to what is left and waits up to
    /// stop.timeout (drain + 5 s, FreeBSDFiles.jailConf) before it removes the jail; then come
    /// exec.poststop and the unmounts, a minute's margin for those. Killed sooner, it would leave
    /// the mounts and the network behind and never run exec.poststop.
    var stopLimit: Duration? {
        let drain = Int64(max(1, settings.drain.seconds.rounded(.up)))
        let limit = Duration.seconds(drain + (drain + 5) + 60)
        return limit > PlanExecutor.defaultLimit ? limit : nil
    }

    /// Waits while jail `name` is removed but still dying, up to `dyingBudget`, so that
    /// `dataset` can then be destroyed. `jls -d` lists dying jails too (usr.sbin/jls/jls.c: `-d`
    /// adds JAIL_DYING to the jail_get(2) flags) and, given a parameter, prints just its value;
    /// once the kernel has freed the jail, jls exits 1 with `jail "NAME" not found`
    /// (sys/kern/kern_jail.c, kern_jail_get). Plain `jls -j` fails for a dying jail already
    /// ("is dying"), which is why `isRunning` cannot tell. `then` says what happens to the dataset
    /// if the jail is still there after the budget.
    static func waitGone(_ name: String, dataset: String, then: String) -> HostStep {
        .waitWhile(
            Command("jls", ["-d", "-j", name, "jid"]), budget: dyingBudget,
            reason:
                "jail \(name) stays dying after its removal while its TCP connections sit in TIME_WAIT (2×MSL, 60 s by default), and keeps \(dataset) busy until it is gone",
            fix:
                "\(dataset) is kept; \(then); `jls -d -j \(name)` lists the jail for as long as the kernel holds it"
        )
    }
}
