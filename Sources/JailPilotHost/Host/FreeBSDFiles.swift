import JailPilotCore

/// The files the FreeBSD driver writes, generated from validated values only.
///
/// Every value that lands in them was validated at the edge (app and service names, SHAs,
/// addresses, paths); they are still quoted for the file's own syntax, so that neither `$`,
/// `"`, `;` nor a newline could change their meaning.
enum FreeBSDFiles {
    /// A jail.conf(5) double-quoted string: `\`, `"` and `$` escaped (no `${}` expansion).
    static func jailQuote(_ value: String) -> String {
        var out = "\""
        for c in value {
            if c == "\\" || c == "\"" || c == "$" { out.append("\\") }
            out.append(c)
        }
        return out + "\""
    }

    /// `/etc/jail.conf.d/<name>.conf`, with the seed article's parameters.
    static func jailConf(
        _ spec: JailSpec, path: String, network: FreeBSDJailNetwork, drain: Duration, consoleLog: String,
        limitsHelper: String, data: (source: String, target: String)? = nil
    ) -> String {
        let stopTimeout = max(1, Int(drain.seconds.rounded(.up)) + 5)
        return """
            # Written by jailpilot for \(spec.app) at \(spec.sha). Rewritten from its state store; do not edit.
            \(spec.name) {
                # STARTUP/LOGGING
                exec.stop = "/bin/sh /etc/rc.shutdown";
                exec.consolelog = \(jailQuote(consoleLog));
                stop.timeout = \(stopTimeout);
                # PERMISSIONS (no allow.raw_sockets: an HTTP app has no use for it)
                exec.clean;
                mount.devfs;
                # devfsrules_jail (/etc/defaults/devfs.rules): null, zero, random, urandom, std*, fd, pts.
                devfs_ruleset = 4;
                # HOSTNAME/PATH
                host.hostname = \(jailQuote(spec.name.replacing("_", with: "-")));
                path = \(jailQuote(path));
                # NETWORK (network_mode = "\(network.mode.rawValue)"), then /etc/rc
                \(network.confLines(address: spec.address, startsRC: true).joined(separator: "\n    "))
                # LIMITS: \(spec.limits.summary). rctl(8) rules by jail name, added before the jail
                # exists and removed after it stops, through jail-limits: without resource accounting
                # (kern.racct.enable=1 in loader.conf, then a reboot) it starts the jail unlimited.
                exec.prestart += \(jailQuote("\(limitsHelper) add \(spec.name) memoryuse:sigkill=\(spec.limits.memory) pcpu:deny=\(max(1, spec.limits.millicores / 10))"));
                exec.poststop += \(jailQuote("\(limitsHelper) remove \(spec.name)"));\(data.map { "\n    # DATA: the app's own dataset, the same for every release; unmounted by jail -r.\n    mount += \(jailQuote(FreeBSDBuildJail.fstabLine(source: $0.source, target: $0.target, mode: "rw")));" } ?? "")
            }

            """
    }

    /// jail-limits, which each release's jail.conf runs as exec.prestart and exec.poststop: the
    /// jail's rctl(8) rules, or none while the kernel does not account resources.
    ///
    /// `kern.racct.enable` is a boot-only tunable (CTLFLAG_RDTUN, sys/kern/kern_racct.c) and
    /// GENERIC is built with RACCT_DEFAULT_TO_DISABLED: until a reboot with it in loader.conf,
    /// `rctl -a` exits 1 ("RACCT/RCTL present, but disabled", usr.bin/rctl/rctl.c) and jail(8)
    /// refuses to create a jail whose exec.prestart fails. A deploy must not fail for that, and a
    /// jail.conf written before the reboot must get its limits after it: hence a check at every
    /// start rather than rules decided when the file is written. Rules come as arguments, never
    /// through a shell string.
    static let limitsScript = """
        #!/bin/sh
        # Written by jailpilot: a release jail's rctl(8) rules, from its jail.conf
        # (exec.prestart: add JAIL RULE..., exec.poststop: remove JAIL).
        # Without resource accounting (kern.racct.enable=0 at boot) the jail starts unlimited,
        # and says so to syslog (jail(8) gives exec.consolelog to commands in the jail only,
        # usr.sbin/jail/command.c); `jailpilot doctor` tells how to turn it on.
        set -u
        action=${1:-} jail=${2:-}
        case "$action" in add | remove) ;; *) echo "usage: jail-limits add|remove JAIL [RULE ...]" >&2; exit 2 ;; esac
        [ -n "$jail" ] || { echo "usage: jail-limits add|remove JAIL [RULE ...]" >&2; exit 2; }
        shift 2
        racct=$(/sbin/sysctl -n kern.racct.enable 2>/dev/null) || racct=none
        if [ "$racct" != "1" ]; then
            if [ "$action" = add ]; then
                if [ "$racct" = none ]; then
                    why="this kernel has no RACCT (build it with options RACCT and RCTL)"
                else
                    why="resource accounting is off: add kern.racct.enable=1 to /boot/loader.conf and reboot"
                fi
                echo "jailpilot: limits of $jail not enforced: $why" >&2
                /usr/bin/logger -t jailpilot "limits of $jail not enforced: $why"
            fi
            exit 0
        fi
        case "$action" in
        add) for rule in "$@"; do /usr/bin/rctl -a "jail:$jail:$rule" || exit 1; done ;;
        # A jail started before accounting was on has no rules, and rctl -r of none fails
        # (ESRCH); a failing exec.poststop would make jail -r report an error for a removed jail.
        remove) /usr/bin/rctl -r "jail:$jail" 2>/dev/null || true ;;
        esac

        """

    /// The service's rc.d script, after the seed's, supervised by daemon(8): `-P` is the
    /// supervisor's pid (stop signals it; it forwards SIGTERM), `-r` restarts the service,
    /// `-H` reopens the log on SIGHUP for newsyslog. `args` follow the binary, each single-quoted:
    /// daemon(8) parses options only up to its first operand (`shortopts[] = "+cfHSp:…"`,
    /// usr.sbin/daemon/daemon.c) and env(1) runs what follows its name=value operands as the
    /// utility and its arguments, so an argument like `--config=…` reaches the app, not them.
    static func rcScript(
        service: String, port: Int, drain: Duration, app: String, sha: String, data: String? = nil, args: [String] = []
    ) -> String {
        let wait = max(1, Int(drain.seconds.rounded(.up)))
        let quotedArgs = args.map { " " + ShellQuote.single($0) }.joined()
        return """
            #!/bin/sh
            #
            # PROVIDE: \(service)
            # REQUIRE: LOGIN
            # KEYWORD: shutdown
            #
            # Written by jailpilot. \(service)_enable="YES" in /etc/rc.conf starts it.

            # shellcheck source=/dev/null
            . /etc/rc.subr

            name="\(service)"
            # shellcheck disable=SC2034 # rcvar, start_cmd, stop_cmd and status_cmd are read by rc.subr
            rcvar="\(service)_enable"

            load_rc_config "$name"
            : "${\(service)_enable:=NO}"
            : "${\(service)_port:=\(port)}"

            command="/usr/local/bin/\(service)"
            pidfile="/var/run/\(service).pid"
            supervisor_pidfile="/var/run/\(service).daemon.pid"
            logfile="/var/log/\(service).log"
            envfile="/usr/local/etc/jailpilot/\(service).env"
            # shellcheck disable=SC2034
            start_cmd="\(service)_start"
            # shellcheck disable=SC2034
            stop_cmd="\(service)_stop"
            # shellcheck disable=SC2034
            status_cmd="\(service)_status"

            \(service)_start()
            {
                echo "Starting ${name}."
                [ -f "$logfile" ] || install -o nobody -g nobody -m 644 /dev/null "$logfile"
                # The app's variables: a root-only file exported through the environment, never
                # arguments (nothing shows in ps). daemon -u then sets PATH, HOME, USER, SHELL and
                # the login class's variables (usr.sbin/daemon/daemon.c, restrict_process).
                (
                    if [ -f "$envfile" ]; then set -a; . "$envfile" || exit 1; set +a; fi
                    exec /usr/sbin/daemon -P "$supervisor_pidfile" -p "$pidfile" -r -R 1 -H -o "$logfile" -t "$name" -u nobody \\
                        /usr/bin/env PORT="${\(service)_port}" JAILPILOT_APP=\(app) JAILPILOT_SHA=\(sha)\(data.map { " JAILPILOT_DATA=\($0)" } ?? "") "$command"\(quotedArgs)
                )
            }

            \(service)_stop()
            {
                if [ ! -f "$supervisor_pidfile" ]; then
                    echo "${name} is not running."
                    return 0
                fi
                echo "Stopping ${name}."
                supervisor=$(cat "$supervisor_pidfile")
                child=$(cat "$pidfile" 2>/dev/null)
                # daemon(8) forwards SIGTERM to the app and exits at once; wait for the app itself.
                kill -TERM "$supervisor" 2>/dev/null
                waited=0
                while { kill -0 "$supervisor" 2>/dev/null || { [ -n "$child" ] && kill -0 "$child" 2>/dev/null; }; } &&
                    [ "$waited" -lt \(wait * 10) ]; do
                    sleep 0.1
                    waited=$((waited + 1))
                done
                [ -n "$child" ] && kill -KILL "$child" 2>/dev/null
                kill -KILL "$supervisor" 2>/dev/null
                rm -f "$supervisor_pidfile" "$pidfile"
            }

            \(service)_status()
            {
                if [ -f "$supervisor_pidfile" ] && kill -0 "$(cat "$supervisor_pidfile")" 2>/dev/null; then
                    echo "${name} is running as pid $(cat "$pidfile" 2>/dev/null)."
                else
                    echo "${name} is not running."
                    return 1
                fi
            }

            run_rc_command "$1"

            """
    }

    /// `/etc/rc.conf.d/<service>` inside the jail: the knob that lets /etc/rc start the service.
    static func enable(service: String) -> String {
        "# Written by jailpilot.\n\(service)_enable=\"YES\"\n"
    }

    /// newsyslog.conf(5) rule for the service log: 5 bzip2'd files of 100 KB; SIGHUP to daemon(8).
    static func newsyslog(service: String) -> String {
        "# Written by jailpilot.\n/var/log/\(service).log\tnobody:nobody\t644\t5\t100\t*\tJC\t/var/run/\(service).daemon.pid\n"
    }
}

/// Test access to jail.conf quoting (the generator itself stays internal).
public enum FreeBSDFilesProbe {
    public static func quote(_ value: String) -> String { FreeBSDFiles.jailQuote(value) }
}
