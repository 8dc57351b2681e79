import FoundationEssentials
import Glibc

/// Reads and validates agent.conf, reporting every problem with its file and line.
public enum ConfigLoader {
    /// Reads `path` and validates it.
    public static func load(path: String) throws -> AgentConfig {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.readBytes(path, limit: maxFileSize)
        } catch let error as FileIOError where error.code == EFBIG {
            throw ConfigError(issues: [
                ConfigIssue(file: path, line: nil, key: "", message: "larger than \(maxFileSize / 1024) KiB; is this agent.conf?")
            ])
        } catch let error as FileIOError {
            throw ConfigError(issues: [
                ConfigIssue(file: path, line: nil, key: "", message: "cannot read: \(error.reason); pass the config with -c PATH")
            ])
        }
        return try parse(bytes: bytes, file: path)
    }

    /// The largest agent.conf read (a real one is a few KiB).
    public static let maxFileSize = 1 << 20

    /// Validates `text` as if read from `file`.
    public static func parse(_ text: String, file: String, hostPlatform: PlatformKind = .current) throws -> AgentConfig {
        try parse(bytes: Array(text.utf8), file: file, hostPlatform: hostPlatform)
    }

    /// Validates raw bytes (which must be UTF-8) as if read from `file`.
    public static func parse(bytes: [UInt8], file: String, hostPlatform: PlatformKind = .current) throws -> AgentConfig {
        let document: TOMLDocument
        do {
            document = try TOMLDocument(parsingBytes: bytes)
        } catch let error as TOMLSyntaxError {
            throw ConfigError(issues: [
                ConfigIssue(
                    file: file, line: error.line, key: "", message: "not valid TOML (column \(error.column)): \(error.message)")
            ])
        }
        let root = document.root
        let issues = IssueCollector(file: file, map: SourceMap(lines: document.lines))
        let top = TableReader(table: root, path: "", issues: issues)
        top.rejectUnknown(known: ["agent", "jails", "caddy", "webhook", "apps"])
        let empty = TableReader(table: TOMLTable(), path: "", issues: issues)

        let agent = readAgent(top.subtable("agent") ?? empty.renamed("agent"), hostPlatform: hostPlatform)
        let jails = readJails(top.subtable("jails") ?? empty.renamed("jails"), platform: agent.platform)
        let caddy = readCaddy(top.subtable("caddy") ?? empty.renamed("caddy"))
        let webhook = top.subtable("webhook").flatMap(readWebhook)
        var apps: [AppConfig] = []
        if let appsTable = top.subtable("apps") {
            for name in appsTable.table.keys.sorted() {
                if let problem = Names.appNameProblem(name) {
                    issues.add("apps.\(name)", "app name '\(name)' \(problem)")
                    continue
                }
                guard let reader = appsTable.subtable(name) else { continue }
                if let app = readApp(reader, name: name, agent: agent, jails: jails) { apps.append(app) }
            }
        }
        if apps.isEmpty && issues.issues.isEmpty {
            issues.add("apps", "no apps configured; add a table such as [apps.hello] with repo = \"https://...\"")
        }
        crossCheck(apps, issues: issues)
        guard issues.issues.isEmpty else {
            throw ConfigError(issues: issues.issues.sorted { ($0.line ?? 0) < ($1.line ?? 0) })
        }
        if webhook == nil, let app = apps.first(where: { $0.webhookSecret != nil }) {
            issues.add("apps.\(app.name).webhook_secret", "needs a [webhook] table (listen, hostnames) to receive webhooks on")
            throw ConfigError(issues: issues.issues)
        }
        var config = AgentConfig(agent: agent, jails: jails, caddy: caddy, apps: apps, sourcePath: file)
        config.webhook = webhook
        return config
    }

    private static func readAgent(_ t: TableReader, hostPlatform: PlatformKind) -> AgentSettings {
        t.rejectUnknown(
            known: [
                "platform", "poll_interval", "state_dir", "log_file", "metrics_file", "max_parallel_builds",
                "build_timeout", "build_path", "build_env", "known_hosts", "build_sandbox", "build_user", "build_template",
                "notify",
            ] + verificationKeys)
        var platform = hostPlatform
        if let text = t.string("platform", example: "\"linux\"") {
            if let p = PlatformKind(rawValue: text) {
                platform = p
            } else {
                t.issues.add(t.key("platform"), "'\(text)' is not a platform; write \"freebsd\" or \"linux\"")
            }
        }
        let stateDir = t.string("state_dir", example: "\"/var/db/jailpilot\"") ?? "/var/db/jailpilot"
        checkPath(t, "state_dir", stateDir)
        var logFile: String? = t.string("log_file", example: "\"/var/log/jailpilot.log\"") ?? "/var/log/jailpilot.log"
        if logFile == "" || logFile == "-" { logFile = nil } else if let f = logFile { checkPath(t, "log_file", f) }
        let metrics = t.string("metrics_file", example: "\"/var/tmp/node_exporter/jailpilot.prom\"")
        if let m = metrics { checkPath(t, "metrics_file", m) }
        let parallel = t.int("max_parallel_builds", example: "1") ?? 1
        if !(1...64).contains(parallel) { t.issues.add(t.key("max_parallel_builds"), "\(parallel) must be between 1 and 64") }
        var settings = AgentSettings(
            platform: platform,
            pollInterval: t.duration("poll_interval", example: "30s", range: .milliseconds(100)...(.seconds(86400)))
                ?? .seconds(30),
            stateDir: stateDir,
            logFile: logFile,
            metricsFile: metrics,
            maxParallelBuilds: min(max(parallel, 1), 64),
            buildTimeout: t.duration("build_timeout", example: "10m", range: .milliseconds(100)...(.seconds(86400)))
                ?? .seconds(600),
            buildPath: t.string("build_path", example: "\"/usr/local/bin:/usr/bin:/bin\"")
                ?? "/usr/local/go/bin:/usr/local/bin:/usr/lib/go/bin:/usr/bin:/bin",
            buildEnv: t.stringTable("build_env", example: "{ GOPROXY = \"https://proxy.golang.org\" }") ?? [:],
            knownHosts: t.string("known_hosts", example: "\"/etc/ssh/ssh_known_hosts\"") ?? "/etc/ssh/ssh_known_hosts")
        if let problem = buildPathProblem(settings.buildPath) {
            t.issues.add(t.key("build_path"), "'\(settings.buildPath)' \(problem)")
        }
        // Builds are confined by default: bubblewrap on Linux, a build jail on FreeBSD.
        settings.buildSandbox = t.bool("build_sandbox") ?? true
        settings.verification = readVerification(t, over: CommitVerification(), app: nil)
        settings.notify = readNotify(t)
        if let template = t.string("build_template", example: "\"build\"") {
            if let problem = Names.templateProblem(template) {
                t.issues.add(t.key("build_template"), problem)
            } else {
                settings.buildTemplate = template
            }
        }
        if let user = t.string("build_user", example: "\"jailpilot-build\"") {
            if Names.appNameProblem(user.replacing("-", with: "_")) != nil || user == "root" {
                t.issues.add(t.key("build_user"), "'\(user)' is not an unprivileged account name like \"jailpilot-build\"")
            } else {
                settings.buildUser = user
            }
        }
        return settings
    }

    private static func readJails(_ t: TableReader, platform: PlatformKind) -> JailSettings {
        t.rejectUnknown(known: [
            "dataset", "mountpoint", "template", "interface", "network_mode", "network", "drain", "memory", "cpu", "disk",
            "log_size", "log_keep",
        ])
        let freebsd = platform == .freebsd
        let dataset = t.string("dataset", example: "\"zroot/jails\"") ?? "zroot/jails"
        if dataset.isEmpty || dataset.hasPrefix("/") || dataset.hasSuffix("/")
            || !dataset.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_-./:".contains($0)) })
        {
            t.issues.add(t.key("dataset"), "'\(dataset)' is not a ZFS dataset name like \"zroot/jails\"")
        }
        let mountpoint =
            t.string("mountpoint", example: "\"/usr/local/jails\"")
            ?? (freebsd ? "/usr/local/jails" : "/var/lib/jailpilot/jails")
        checkPath(t, "mountpoint", mountpoint)
        let template = t.string("template", example: "\"15.1-RELEASE\"") ?? (freebsd ? "15.1-RELEASE" : "base")
        if let problem = Names.templateProblem(template) { t.issues.add(t.key("template"), problem) }
        var mode = JailNetworkMode.vnet
        if let text = t.string("network_mode", example: "\"vnet\"") {
            if !freebsd {
                t.issues.add(
                    t.key("network_mode"),
                    "network_mode is for platform = \"freebsd\"; a Linux jail always has a network namespace of its own: remove the line"
                )
            } else if let parsed = JailNetworkMode(rawValue: text) {
                mode = parsed
            } else {
                t.issues.add(
                    t.key("network_mode"),
                    "'\(text)' is not a network mode: \"vnet\" (each jail its own network stack, isolated by pf) or \"alias\" (addresses on lo1 in the host's stack, not isolated)"
                )
            }
        }
        let interface =
            t.string("interface", example: mode == .alias ? "\"lo1\"" : "\"jailpilot0\"")
            ?? (freebsd ? (mode == .alias ? "lo1" : "jailpilot0") : "jp0")
        if interface.isEmpty || interface.count > 15
            || !interface.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) })
        {
            t.issues.add(t.key("interface"), "'\(interface)' must be 1-15 letters and digits, e.g. \"jailpilot0\"")
        } else if freebsd, mode == .vnet, interface.hasPrefix("lo") {
            t.issues.add(
                t.key("interface"),
                "'\(interface)' is a loopback interface: VNET jails need the bridge that holds the gateway address, e.g. \"jailpilot0\" (bootstrap-freebsd-host makes it); for lo1 aliases set network_mode = \"alias\""
            )
        }
        let networkText = t.string("network", example: "\"172.16.0.0/12\"") ?? "172.16.0.0/12"
        let network = IPv4Network(networkText)
        if network == nil {
            t.issues.add(
                t.key("network"),
                "'\(networkText)' is not an IPv4 network with host bits zero and a prefix of /8 to /30, e.g. \"172.16.0.0/12\"")
        }
        var settings = JailSettings(
            dataset: dataset, mountpoint: mountpoint, template: template, interface: interface,
            network: network ?? IPv4Network("172.16.0.0/12")!,
            drain: t.duration("drain", example: "10s", range: .milliseconds(100)...(.seconds(3600))) ?? .seconds(10))
        settings.networkMode = mode
        settings.limits = t.limits(over: JailLimits())
        settings.logSize = t.size("log_size", example: "10MiB", range: (64 << 10)...(64 << 30)) ?? settings.logSize
        let keep = t.int("log_keep", example: "5") ?? settings.logKeep
        if !(1...100).contains(keep) { t.issues.add(t.key("log_keep"), "\(keep) must be between 1 and 100") }
        settings.logKeep = min(max(keep, 1), 100)
        return settings
    }

    private static func readCaddy(_ t: TableReader) -> CaddySettings {
        t.rejectUnknown(known: ["admin", "listen", "automatic_https", "resolver", "refresh", "probe", "caddyfile"])
        let admin = t.string("admin", example: "\"http://127.0.0.1:2019\"") ?? "http://127.0.0.1:2019"
        if !(admin.hasPrefix("http://127.") || admin.hasPrefix("http://localhost") || admin.hasPrefix("http://[::1]")
            || admin.hasPrefix("unix//"))
        {
            t.issues.add(
                t.key("admin"),
                "'\(admin)' must be a loopback http:// address or unix//path/to/socket (the admin API is unauthenticated)")
        }
        let listen = t.strings("listen", example: "[\":443\"]") ?? [":443"]
        if listen.isEmpty { t.issues.add(t.key("listen"), "needs at least one address, e.g. [\":8080\"]") }
        for address in listen where !address.contains(":") || address.contains(" ") {
            t.issues.add(t.key("listen"), "'\(address)' is not a listen address like \":8080\" or \"127.0.0.1:8080\"")
        }
        let resolver = t.string("resolver", example: "\"127.0.0.1:5354\"") ?? "127.0.0.1:5354"
        let parts = resolver.split(separator: ":")
        if parts.count != 2 || IPv4Network.parse(String(parts[0])) == nil || UInt16(parts[1]) == nil {
            t.issues.add(t.key("resolver"), "'\(resolver)' must be an IPv4 host:port such as \"127.0.0.1:5354\"")
        }
        let probe = t.string("probe", example: "\"127.0.0.1:5356\"") ?? "127.0.0.1:5356"
        let probeParts = probe.split(separator: ":")
        if !probe.isEmpty,
            probeParts.count != 2 || !(probeParts[0].hasPrefix("127.")) || IPv4Network.parse(String(probeParts[0])) == nil
                || UInt16(probeParts[1]) == nil
        {
            t.issues.add(t.key("probe"), "'\(probe)' must be a loopback host:port such as \"127.0.0.1:5356\", or \"\" for none")
        }
        let caddyfile = t.string("caddyfile", example: "\"/usr/local/etc/caddy/jailpilot.caddyfile\"")
        if let path = caddyfile { checkPath(t, "caddyfile", path) }
        var settings = CaddySettings(
            admin: admin, listen: listen, automaticHTTPS: t.bool("automatic_https") ?? true, resolver: resolver,
            refresh: t.duration("refresh", example: "100ms", range: .milliseconds(10)...(.seconds(10))) ?? .milliseconds(100),
            probe: probe.isEmpty ? nil : probe)
        settings.caddyfile = caddyfile
        return settings
    }

    static func checkPath(_ t: TableReader, _ key: String, _ value: String) {
        if let problem = Names.pathProblem(value) { t.issues.add(t.key(key), "'\(value)' \(problem)") }
    }
}

extension TableReader {
    func renamed(_ path: String) -> TableReader { TableReader(table: table, path: path, issues: issues) }
}

extension PlatformKind {
    /// The platform this binary runs on, from uname(3).
    public static var current: PlatformKind {
        var info = utsname()
        uname(&info)
        let sysname = withUnsafeBytes(of: &info.sysname) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return sysname == "FreeBSD" ? .freebsd : .linux
    }
}
