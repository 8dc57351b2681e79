import Foundation
import JailPilot

/// jail(8) `-f FILE -c NAME` and `-f FILE -r NAME`.
extension FreeBSDStandIn {
    func jail(_ argv: [String]) async throws -> ProcessResult {
        guard argv.count == 4, argv[0] == "-f", argv[2] == "-c" || argv[2] == "-r" else {
            return fail(
                "usage: jail [-dhilqv] [-J jid_file] [-u username] [-U username] -[cmr] param=value ... [command=command ...]")
        }
        let (file, name) = (argv[1], argv[3])
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            return fail("jail: \(file): No such file or directory")
        }
        let parsed: [String: [String: String]]
        switch Self.parseJailConf(text) {
        case .failure(let line): return fail("jail: \(file) line \(line.number): syntax error")
        case .success(let jails): parsed = jails
        }
        guard let conf = parsed[name] else { return fail("jail: \"\(name)\" not found") }
        return argv[2] == "-c" ? try await create(name, conf) : try await remove(name, conf)
    }

    private func create(_ name: String, _ conf: [String: String]) async throws -> ProcessResult {
        let vnet = conf["vnet"] == "true"
        // kern_jail_set: "vnet jails cannot have IP address restrictions" (EINVAL).
        if vnet, ["ip4.addr", "ip6.addr", "ip4", "ip6", "interface"].contains(where: { conf[$0] != nil }) {
            return fail("jail: \(name): vnet jails cannot have IP address restrictions")
        }
        guard let path = conf["path"],
            let address = vnet ? vnetAddress(conf) : conf["ip4.addr"] ?? (conf["ip4"] == "disable" ? "" : nil)
        else {
            return fail("jail: \(name): missing path or ip4.addr")
        }
        // jail(8): a new jail needs persist, exec.start or command.
        guard conf["persist"] != nil || conf["exec.start"] != nil else { return fail("jail: \(name): no command specified") }
        var mounts: [(source: String, target: String, readOnly: Bool)] = []
        for line in (conf["mount"] ?? "").split(separator: "\n") {
            // fstab(5): blank-separated fields, \040 for a blank inside one.
            let fields = line.split(separator: " ").map { $0.replacingOccurrences(of: "\\040", with: " ") }
            guard fields.count == 6, fields[2] == "nullfs", ["rw", "ro"].contains(fields[3]) else {
                return fail("jail: \(name): mount: unsupported fstab line: \(line)")
            }
            for dir in [fields[0], fields[1]] where !FileManager.default.fileExists(atPath: dir) {
                return fail("jail: \(name): mount: \(dir): No such file or directory")
            }
            mounts.append((fields[0], fields[1], fields[3] == "ro"))
        }
        // jail(8): exec.prestart runs on the host before the jail is made, and "all commands
        // must succeed", or the jail is not created.
        for line in (conf["exec.prestart"] ?? "").split(separator: "\n") {
            let result = try await runHostCommand(String(line))
            if !result.succeeded {
                return fail(result.stderrText + "jail: \(name): exec.prestart \(line): failed")
            }
        }
        // jail(8) moves vnet.interface into the new jail after exec.created (jail.c startcommands):
        // `ifconfig IF vnet JAIL`, which fails for an interface that does not exist.
        if vnet, let interface = conf["vnet.interface"] {
            guard var iface = interfaces()[interface], (iface["vnet"] ?? "").isEmpty else {
                return fail("jail: \(name): vnet.interface \(interface): ifconfig: interface \(interface) does not exist")
            }
            iface["vnet"] = name
            try writeInterface(interface, iface)
        }
        let refusal: String? = lock.withLock {
            if jails[name] != nil { return "jail: \(name): jail \(name) already exists" }
            if !FileManager.default.fileExists(atPath: "\(path)/etc") {
                return "jail: \(name): path \(path): No such file or directory"
            }
            if !address.isEmpty, let other = jails.first(where: { $0.value.address == address }) {
                return "jail: \(name): ip4.addr \(address): Address already in use (jail \(other.key))"
            }
            jails[name] = Jail(jid: nextJid, path: path, address: address, conf: conf, mounts: mounts, vnet: vnet)
            created.append(conf)
            nextJid += 1
            return nil
        }
        if let refusal { return fail(refusal) }
        if (conf["exec.start"] ?? "").split(separator: "\n").contains("/bin/sh /etc/rc") {
            try await runServices(in: path, address: address, verb: "quietstart", console: conf["exec.consolelog"])
        }
        return ok()
    }

    /// A VNET jail's address: what its exec.start gives its vnet.interface
    /// (`/sbin/ifconfig IF inet ADDRESS/PREFIX up`); "" for one with no interface (no network).
    func vnetAddress(_ conf: [String: String]) -> String? {
        guard let interface = conf["vnet.interface"] else { return "" }
        for line in (conf["exec.start"] ?? "").split(separator: "\n") {
            let words = line.split(separator: " ")
            if words.count >= 4, words[0] == "/sbin/ifconfig", words[1] == interface, words[2] == "inet" {
                return words[3].split(separator: "/").first.map(String.init)
            }
        }
        return nil
    }

    /// jexec(8) as 14.3-RELEASE has it, `[-l] [-u USER | -U USER] NAME command...` (getopt
    /// "lnu:U:", usr.sbin/jexec/jexec.c; `-d DIR` came later): the command in the jail's root,
    /// from its `/`, with its mounts (bubblewrap does the chroot and the nullfs mounts), as USER;
    /// no network at all for a jail with `ip4 = "disable"`.
    func jexec(
        _ argv: [String], command: Command, stdout: OutputTarget, stderr: OutputTarget, timeout: Duration?
    ) async throws -> ProcessResult {
        guard argv.count >= 4, argv[0] == "-u" || argv[0] == "-U" else {
            return fail(
                "jexec: illegal option -- \(argv.first?.dropFirst() ?? "")\nusage: jexec [-l] [-u username | -U username] jail [command ...]"
            )
        }
        let (directory, user, name) = ("/", argv[1], argv[2])
        guard let jail = running(name) else { return fail("jexec: jail \"\(name)\" not found") }
        guard let entry = getpwnam(user) else { return fail("jexec: \(user): no such user") }
        var args = ["--bind", jail.path, "/", "--ro-bind", "/usr", "/usr", "--dev", "/dev", "--proc", "/proc"]
        // A release jail's /usr/local (its app and scripts) over the host's /usr, and FreeBSD's
        // chroot(8) -u/-g/-G as a shim.
        if FileManager.default.fileExists(atPath: "\(jail.path)/usr/local") {
            args += [
                "--bind", "\(jail.path)/usr/local", "/usr/local", "--ro-bind", "\(Self.fixtures)/chroot", "/usr/sbin/chroot",
            ]
        }
        for mount in jail.mounts {
            guard mount.target.hasPrefix(jail.path + "/") else { return fail("jexec: mount outside the jail") }
            args += [mount.readOnly ? "--ro-bind" : "--bind", mount.source, String(mount.target.dropFirst(jail.path.count))]
        }
        args += ["--unshare-pid", "--unshare-ipc", "--chdir", directory]
        if jail.address.isEmpty { args.append("--unshare-net") }
        args += [
            "--", "/usr/bin/setpriv", "--reuid=\(entry.pointee.pw_uid)", "--regid=\(entry.pointee.pw_gid)", "--clear-groups",
            "--",
        ]
        args += Array(argv[3...])
        return try await real.run(
            Command("bwrap", args, environment: command.environment), stdout: stdout, stderr: stderr, timeout: timeout)
    }

    private func remove(_ name: String, _ conf: [String: String]) async throws -> ProcessResult {
        guard let jail = running(name) else { return fail("jail: \"\(name)\" not found") }
        if conf["exec.stop"] != nil {
            try await runServices(in: jail.path, address: jail.address, verb: "faststop", console: conf["exec.consolelog"])
        }
        // jail -r: whatever is left in the jail gets SIGTERM, then SIGKILL after stop.timeout.
        for pid in processes(under: jail.path) { kill(pid, SIGKILL) }
        lock.withLock {
            jails[name] = nil
            dying[name] = DyingJail(path: jail.path, jid: jail.jid, until: .now + dyingFor)
        }
        releaseInterfaces(of: name)
        for line in (conf["exec.poststop"] ?? "").split(separator: "\n") {
            let result = try await runHostCommand(String(line))
            if !result.succeeded { return fail("jail: \(name): exec.poststop \(line): failed") }
        }
        return ok()
    }

    /// A removed VNET jail's interfaces: the stand-in returns them to the host's stack at once
    /// (FreeBSD does when the jail is finally freed: if.c vnet_if_return); exec.poststop's
    /// `jail-net destroy` on the host end destroys both ends either way (if_epair.c).
    func releaseInterfaces(of name: String) {
        for (interface, var iface) in interfaces() where iface["vnet"] == name {
            iface["vnet"] = nil
            try? writeInterface(interface, iface)
        }
    }

    /// What /etc/rc (and /etc/rc.shutdown) do for the jail's local services.
    func runServices(in path: String, address: String, verb: String, console: String?) async throws {
        let scripts = (try? FileManager.default.contentsOfDirectory(atPath: "\(path)/usr/local/etc/rc.d")) ?? []
        for script in scripts.sorted() {
            let translated = try Self.translate(script: "\(path)/usr/local/etc/rc.d/\(script)", root: path)
            let command = Command(
                "/bin/sh", [translated, verb],
                environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "RC_ROOT": path, "JAIL_IP": address, "HOME": "/"])
            let target: OutputTarget = console.map { .append(path: $0) } ?? .discard
            _ = try await real.run(command, stdout: target, stderr: target, timeout: .seconds(60))
        }
    }

    /// A copy of a jail's rc script with its absolute paths moved into the jail's root, and
    /// rc.subr and daemon(8) pointing at the stand-ins.
    static func translate(script: String, root: String) throws -> String {
        var text = try String(contentsOfFile: script, encoding: .utf8)
        for dir in ["/var/run/", "/var/log/", "/usr/local/"] { text = text.replacingOccurrences(of: dir, with: "\(root)\(dir)") }
        text = text.replacingOccurrences(of: "/etc/rc.subr", with: "\(fixtures)/rc.subr")
        text = text.replacingOccurrences(of: "/usr/sbin/daemon", with: "\(fixtures)/daemon")
        let out = "\(root)/.standin/\((script as NSString).lastPathComponent)"
        try FileIO.makeDirectories("\(root)/.standin")
        try FileIO.replace(out, text: text, mode: 0o755)
        return out
    }

    /// Processes whose command line names a path inside `root` (the jail's own processes).
    func processes(under root: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard let pid = pid_t(entry), pid != getpid(),
                let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { return nil }
            return String(decoding: data, as: UTF8.self).contains(root + "/") ? pid : nil
        }
    }

    struct ParseError: Error { var number: Int }

    /// jail.conf(5) as jailpilot writes it: `name { param = "value"; flag; }`, `#` comments,
    /// double-quoted values with `\` escapes. Anything else is a syntax error at its line.
    static func parseJailConf(_ text: String) -> Result<[String: [String: String]], ParseError> {
        var jails: [String: [String: String]] = [:]
        var current: String?
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if current == nil {
                guard line.hasSuffix("{") else { return .failure(ParseError(number: index + 1)) }
                let name = line.dropLast().trimmingCharacters(in: .whitespaces)
                guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }) else {
                    return .failure(ParseError(number: index + 1))
                }
                current = name
                jails[name] = [:]
                continue
            }
            if line == "}" {
                current = nil
                continue
            }
            guard line.hasSuffix(";"), let jail = current else { return .failure(ParseError(number: index + 1)) }
            let body = line.dropLast()
            guard let eq = body.firstIndex(of: "=") else {
                jails[jail]?[body.trimmingCharacters(in: .whitespaces)] = "true"
                continue
            }
            var key = body[..<eq].trimmingCharacters(in: .whitespaces)
            let append = key.hasSuffix("+")
            if append { key = String(key.dropLast()).trimmingCharacters(in: .whitespaces) }
            var value = body[body.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\"") {
                guard value.count >= 2, value.hasSuffix("\""), !value.hasSuffix("\\\"") || value.hasSuffix("\\\\\"") else {
                    return .failure(ParseError(number: index + 1))
                }
                var out = ""
                var escaped = false
                for c in value.dropFirst().dropLast() {
                    if escaped {
                        out.append(c)
                        escaped = false
                    } else if c == "\\" {
                        escaped = true
                    } else if c == "\"" {
                        return .failure(ParseError(number: index + 1))
                    } else {
                        out.append(c)
                    }
                }
                value = out
            } else if value.contains(where: { $0 == " " || $0 == "\"" }) {
                return .failure(ParseError(number: index + 1))
            }
            let earlier = jails[jail]?[key]
            jails[jail]?[key] = append ? [earlier, value].compactMap { $0 }.joined(separator: "\n") : value
        }
        return current == nil ? .success(jails) : .failure(ParseError(number: text.split(separator: "\n").count))
    }
}
