import Foundation
import JailPilot
import Testing

/// The rc.d scripts jailpilot ships and generates, run with start/status/reload/restart/stop
/// under the rc.subr and daemon(8) stand-ins (Fixtures/freebsd), paths moved into a scratch root.
@Suite(.serialized, .enabled(if: canStandIn, "needs root (daemon -u), python3 and setpriv"))
struct RcScriptTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// A FreeBSD-like root with one rc script installed and translated, and a stub program.
    struct Root {
        let scratch: Scratch
        let script: String
        var path: String { scratch.path }

        init(script source: String, named name: String, program: (path: String, text: String)) throws {
            scratch = try Scratch("rc")
            for dir in ["etc/rc.conf.d", "var/run", "var/log", "usr/local/etc/rc.d", "usr/local/bin", "usr/local/etc/jailpilot"] {
                try FileIO.makeDirectories("\(scratch.path)/\(dir)")
            }
            try FileIO.replace("\(scratch.path)/etc/rc.conf", text: "")
            try FileIO.replace("\(scratch.path)/usr/local/etc/rc.d/\(name)", text: source, mode: 0o555)
            try FileIO.replace("\(scratch.path)\(program.path)", text: program.text, mode: 0o755)
            script = try FreeBSDStandIn.translate(script: "\(scratch.path)/usr/local/etc/rc.d/\(name)", root: scratch.path)
        }

        /// Runs `script verb`. Output goes to files, as /etc/rc's goes to the console: daemon(8)
        /// keeps the descriptors it was started with, so a pipe would never see EOF.
        func rc(_ verb: String) async throws -> ProcessResult {
            let out = "\(path)/.rc-\(UUID().uuidString).out"
            let err = out + ".err"
            var result = try await HostProcessRunner().run(
                Command(
                    "/bin/sh", [script, verb],
                    environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "RC_ROOT": path, "HOME": "/"]),
                stdout: .append(path: out), stderr: .append(path: err), timeout: .seconds(30))
            result.stdout = FileManager.default.contents(atPath: out) ?? Data()
            result.stderr = FileManager.default.contents(atPath: err) ?? Data()
            return result
        }

        func setting(_ line: String) throws {
            let file = "\(path)/etc/rc.conf"
            try FileIO.replace(file, text: (try String(contentsOfFile: file, encoding: .utf8)) + line + "\n")
        }

        func pid(_ file: String) -> pid_t? {
            (try? String(contentsOfFile: "\(path)/var/run/\(file)", encoding: .utf8)).flatMap { pid_t($0.trimmedWhitespace) }
        }

        func read(_ file: String) -> String { (try? String(contentsOfFile: "\(path)\(file)", encoding: .utf8)) ?? "" }
    }

    /// A long-running stub that says what it got and reopens nothing itself.
    static let stub = """
        #!/bin/sh
        case "$1" in check) grep -q bad "$3" && { echo "agent.conf:1: bad"; exit 1; }; exit 0 ;; esac
        trap 'echo "got HUP"' HUP
        trap 'echo "got TERM"; sleep 1; exit 0' TERM
        echo "started: $* PORT=$PORT"
        while :; do echo tick; sleep 0.2; done

        """

    /// Whether the process exists and has not exited (a zombie has: this machine's pid 1 may be
    /// slow to reap orphans, which FreeBSD's init does at once).
    func alive(_ pid: pid_t?) -> Bool {
        guard let pid, kill(pid, 0) == 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return !stat[close...].dropFirst(2).hasPrefix("Z")
    }

    @Test func theGeneratedAppScriptStartsReportsRestartsAndStops() async throws {
        let settings = try ConfigLoader.parse(
            "[jails]\ndrain = \"2s\"\n[apps.hello]\nrepo = \"https://example.org/h.git\"\nhostnames = [\"h.example.org\"]\n",
            file: "t.conf")
        let host = FreeBSDJails(
            settings: settings.jails, runner: HostProcessRunner(), owner: OwnerID(id: "0123456789abcdef", stateDir: "/var/db/jp"))
        let spec = JailSpec(
            app: try #require(settings.app("hello")), sha: String(repeating: "a", count: 40), address: "172.16.0.2",
            artifact: "/x")
        let steps = host.plan(.provision, spec)
        func file(_ suffix: String) -> String? {
            for case .write(let path, let content, _) in steps where path.hasSuffix(suffix) { return content }
            return nil
        }
        let root = try Root(
            script: try #require(file("/rc.d/hello")), named: "hello", program: ("/usr/local/bin/hello", Self.stub))

        // Not enabled yet: rc.subr declines, nothing runs.
        let declined = try await root.rc("start")
        #expect(declined.stdoutText.contains("Cannot 'start' hello. Set hello_enable to YES"))
        #expect(root.pid("hello.daemon.pid") == nil)

        // The driver's rc.conf.d file enables it, as load_rc_config reads it.
        try FileIO.replace("\(root.path)/etc/rc.conf.d/hello", text: try #require(file("/etc/rc.conf.d/hello")))
        #expect(try await root.rc("start").succeeded)
        #expect(await eventually(.seconds(5)) { root.read("/var/log/hello.log").contains("started:  PORT=8080") })
        let first = root.pid("hello.pid")
        #expect(alive(first) && alive(root.pid("hello.daemon.pid")))
        let status = try await root.rc("status")
        #expect(status.succeeded && status.stdoutText.contains("hello is running as pid \(first ?? 0)"), "\(status.stdoutText)")

        #expect(try await root.rc("restart").succeeded)
        #expect(await eventually(.seconds(5)) { root.pid("hello.pid").map { $0 != first } ?? false })
        #expect(!alive(first), "restart stopped the old process")
        let second = root.pid("hello.pid")

        // daemon(8) forwards SIGTERM and leaves at once (usr.sbin/daemon/daemon.c, handle_term):
        // stop must wait for the app itself, which takes a second to finish here.
        #expect(try await root.rc("stop").succeeded)
        #expect(!alive(second), "stop returned while the app was still finishing")
        #expect(root.pid("hello.pid") == nil && root.pid("hello.daemon.pid") == nil)
        let after = try await root.rc("status")
        #expect(!after.succeeded && after.stdoutText.contains("hello is not running"))
    }

    @Test func theAgentScriptStartsReloadsChecksAndStops() async throws {
        let source = try String(contentsOfFile: "\(Self.repo)/rc.d/jailpilot", encoding: .utf8)
        let root = try Root(script: source, named: "jailpilot", program: ("/usr/local/bin/jailpilot", Self.stub))
        try FileIO.replace("\(root.path)/usr/local/etc/jailpilot/agent.conf", text: "[agent]\n")
        try root.setting("jailpilot_enable=\"YES\"")

        let started = try await root.rc("start")
        #expect(started.succeeded, "\(started.stdoutText)\(started.stderrText)")
        #expect(await eventually(.seconds(5)) { root.read("/var/log/jailpilot.out").contains("started: run -c") })
        let status = try await root.rc("status")
        #expect(status.succeeded, "rc.subr finds daemon(8) by its pid file and procname: \(status.stdoutText)")

        #expect(try await root.rc("reload").succeeded)
        #expect(await eventually(.seconds(5)) { root.read("/var/log/jailpilot.out").contains("got HUP") })

        // newsyslog moves the output file away and sends SIGHUP to the pid file its rule names.
        try rotate(root, log: "/var/log/jailpilot.out", rule: "/var/log/jailpilot.out")
        #expect(try await root.rc("reload").succeeded)
        #expect(await eventually(.seconds(5)) { root.read("/var/log/jailpilot.out").contains("got HUP") })

        let child = root.pid("jailpilot.agent.pid")
        #expect(try await root.rc("stop").succeeded)
        #expect(!alive(child) && root.pid("jailpilot.pid") == nil)
        #expect(!(try await root.rc("status")).succeeded)

        // Regression: stop_precmd returned cat's status, so without the agent's pid file (daemon(8)
        // between two restarts of the agent) rc.subr refused the stop and the agent kept running.
        #expect(try await root.rc("start").succeeded)
        #expect(await eventually(.seconds(5)) { root.pid("jailpilot.agent.pid") != nil })
        unlink("\(root.path)/var/run/jailpilot.agent.pid")
        let stopped = try await root.rc("stop")
        #expect(stopped.succeeded, "\(stopped.stdoutText)\(stopped.stderrText)")
        #expect(root.pid("jailpilot.pid") == nil, "the supervisor is gone")

        // A config that does not check refuses the start (start_precmd) and says why.
        try FileIO.replace("\(root.path)/usr/local/etc/jailpilot/agent.conf", text: "bad\n")
        let refused = try await root.rc("start")
        #expect(!refused.succeeded && refused.stdoutText.contains("agent.conf:1: bad"))
        #expect(root.pid("jailpilot.pid") == nil)
    }

    @Test func theUserKnobRcSubrWrapsWouldBreakTheServiceAndRunasDoesNot() async throws {
        let source = try String(contentsOfFile: "\(Self.repo)/rc.d/jailpilot_resolver", encoding: .utf8)
        let root = try Root(script: source, named: "jailpilot_resolver", program: ("/usr/local/bin/jailpilot", Self.stub))
        try root.setting("jailpilot_resolver_enable=\"YES\"")
        // rc.subr runs daemon(8) itself as ${name}_user: it cannot open its log or pid file.
        try root.setting("jailpilot_resolver_user=\"nobody\"")
        let wrapped = try await root.rc("start")
        #expect(!wrapped.succeeded || root.pid("jailpilot_resolver.pid") == nil)
        #expect(wrapped.stderrText.contains("Permission denied"), "\(wrapped.stderrText)")

        try FileIO.replace(
            "\(root.path)/etc/rc.conf", text: "jailpilot_resolver_enable=\"YES\"\njailpilot_resolver_runas=\"nobody\"\n")
        #expect(try await root.rc("start").succeeded)
        #expect(await eventually(.seconds(5)) { root.read("/var/log/jailpilot_resolver.log").contains("started: resolver -c") })
        let supervisor = root.pid("jailpilot_resolver.pid")
        let children =
            (try? String(contentsOfFile: "/proc/\(supervisor ?? 0)/task/\(supervisor ?? 0)/children", encoding: .utf8)) ?? ""
        let child = pid_t(children.split(separator: " ").first.map(String.init) ?? "")
        let owner = try? String(contentsOfFile: "/proc/\(child ?? 0)/status", encoding: .utf8)
        #expect(owner?.contains("Uid:\t65534") == true, "the resolver itself runs as nobody")

        try rotate(root, log: "/var/log/jailpilot_resolver.log", rule: "/var/log/jailpilot_resolver.log")
        #expect(await eventually(.seconds(5)) { root.read("/var/log/jailpilot_resolver.log").contains("tick") })
        #expect(try await root.rc("stop").succeeded)
        #expect(root.pid("jailpilot_resolver.pid") == nil)
    }

    /// What newsyslog does for a rule with a pid file: move the log aside, SIGHUP the pid.
    func rotate(_ root: Root, log: String, rule name: String) throws {
        let rules = try String(contentsOfFile: "\(Self.repo)/rc.d/newsyslog-jailpilot.conf", encoding: .utf8)
        let fields = try #require(
            rules.split(separator: "\n").first { $0.hasPrefix(name + " ") }?.split(whereSeparator: { $0 == " " || $0 == "\t" }))
        let pidFile = try #require(
            fields.count == 8 ? String(fields[7]) : nil, "the rule for \(name) names no pid file to signal")
        let pid = try #require(pid_t((try String(contentsOfFile: "\(root.path)\(pidFile)", encoding: .utf8)).trimmedWhitespace))
        #expect(rename("\(root.path)\(log)", "\(root.path)\(log).0") == 0)
        kill(pid, SIGHUP)
    }
}
