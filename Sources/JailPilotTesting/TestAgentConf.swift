import JailPilot

/// An agent.conf written by a test: the settings tests vary as properties, rendered by `text`
/// as TOML with every value quoted or written as TOML writes it.
///
/// One builder for every test world (the memory world, the Linux end-to-end world, the FreeBSD
/// stand-in, the fleet's simulated hosts, the single-config tests). A property left nil is not
/// written, so the agent's default applies. `lines` fields take TOML a test writes itself, for
/// the keys no property names; they are written after the properties of their table, so a key
/// must not be both a property and in `lines`.
public struct TestAgentConf: Sendable, Equatable {
    /// `[agent] platform`: "linux" or "freebsd".
    public var platform = "linux"
    public var stateDir: String
    public var logFile: String?
    public var metricsFile: String?
    /// A duration as agent.conf writes it ("200ms").
    public var pollInterval: String?
    public var buildSandbox: Bool?
    /// More lines of `[agent]`, as TOML.
    public var agentLines = ""
    /// `[jails]`; written when any of its settings is.
    public var jails = Jails()
    /// `[caddy]`; written when any of its settings is.
    public var caddy = Caddy()
    /// `[apps.NAME]` tables, in this order.
    public var apps: [App]
    /// TOML appended after the apps: more tables (`[webhook]`, `[[agent.notify]]`, other apps).
    public var extra = ""

    public init(platform: String = "linux", stateDir: String, apps: [App] = []) {
        self.platform = platform
        self.stateDir = stateDir
        self.apps = apps
    }

    /// The `[jails]` table.
    public struct Jails: Sendable, Equatable {
        public var dataset: String?
        public var mountpoint: String?
        public var template: String?
        public var networkMode: String?
        public var interface: String?
        public var network: String?
        public var drain: String?
        /// More lines of `[jails]`, as TOML.
        public var lines = ""

        public init(
            dataset: String? = nil, mountpoint: String? = nil, template: String? = nil, networkMode: String? = nil,
            interface: String? = nil, network: String? = nil, drain: String? = nil
        ) {
            self.dataset = dataset
            self.mountpoint = mountpoint
            self.template = template
            self.networkMode = networkMode
            self.interface = interface
            self.network = network
            self.drain = drain
        }
    }

    /// The `[caddy]` table.
    public struct Caddy: Sendable, Equatable {
        public var admin: String?
        public var listen: [String]?
        public var automaticHTTPS: Bool?
        public var resolver: String?
        /// "" writes `probe = ""`: no probe.
        public var probe: String?
        public var refresh: String?
        public var caddyfile: String?
        /// More lines of `[caddy]`, as TOML.
        public var lines = ""

        public init(
            admin: String? = nil, listen: [String]? = nil, automaticHTTPS: Bool? = nil, resolver: String? = nil,
            probe: String? = nil, refresh: String? = nil
        ) {
            self.admin = admin
            self.listen = listen
            self.automaticHTTPS = automaticHTTPS
            self.resolver = resolver
            self.probe = probe
            self.refresh = refresh
        }
    }

    /// One `[apps.NAME]` table.
    public struct App: Sendable, Equatable {
        public var name: String
        public var repo: String
        public var branch: String?
        public var hostnames: [String]
        public var pin: String?
        public var port: Int?
        public var keep: Int?
        /// Durations as agent.conf writes them ("8s").
        public var healthDeadline: String?
        public var probation: String?
        public var allowRewind: Bool?
        /// More lines of the table, as TOML (`build = [...]`, `data = "..."`, `reach = [...]`).
        public var lines: String

        /// App `name` from `repo`, served as `name.localhost`.
        public init(_ name: String, repo: String, hostnames: [String]? = nil, lines: String = "") {
            self.name = name
            self.repo = repo
            self.hostnames = hostnames ?? ["\(name).localhost"]
            self.lines = lines
        }
    }

    /// The app called `name` (it must be one of `apps`).
    public subscript(app name: String) -> App {
        get { apps.first { $0.name == name }! }
        set { apps[apps.firstIndex { $0.name == name }!] = newValue }
    }

    /// The agent.conf text.
    public var text: String {
        var out = TOMLWriter()
        out.table("agent")
        out.set("platform", platform)
        out.set("state_dir", stateDir)
        out.set("log_file", logFile)
        out.set("metrics_file", metricsFile)
        out.set("poll_interval", pollInterval)
        out.set("build_sandbox", buildSandbox)
        out.raw(agentLines)
        if jails != Jails() {
            out.table("jails")
            out.set("dataset", jails.dataset)
            out.set("mountpoint", jails.mountpoint)
            out.set("template", jails.template)
            out.set("network_mode", jails.networkMode)
            out.set("interface", jails.interface)
            out.set("network", jails.network)
            out.set("drain", jails.drain)
            out.raw(jails.lines)
        }
        if caddy != Caddy() {
            out.table("caddy")
            out.set("admin", caddy.admin)
            out.set("listen", caddy.listen)
            out.set("automatic_https", caddy.automaticHTTPS)
            out.set("resolver", caddy.resolver)
            out.set("probe", caddy.probe)
            out.set("refresh", caddy.refresh)
            out.set("caddyfile", caddy.caddyfile)
            out.raw(caddy.lines)
        }
        for app in apps {
            out.table("apps", app.name)
            out.set("repo", app.repo)
            out.set("branch", app.branch)
            out.set("hostnames", app.hostnames)
            out.set("pin", app.pin)
            out.set("port", app.port)
            out.set("keep", app.keep)
            out.set("health_deadline", app.healthDeadline)
            out.set("probation", app.probation)
            out.set("allow_rewind", app.allowRewind)
            out.raw(app.lines)
        }
        out.raw(extra)
        return out.text
    }

    /// The config the agent reads from `text` (`file` names it in messages).
    public func parsed(file: String = "agent.conf") throws -> AgentConfig { try ConfigLoader.parse(text, file: file) }

    /// A TOML basic string: `"` and `\` escaped, control characters as escapes.
    public static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f:
                let hex = String(scalar.value, radix: 16, uppercase: true)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A TOML key: bare when it can be, else quoted.
    public static func key(_ name: String) -> String {
        let bare =
            !name.isEmpty
            && name.unicodeScalars.allSatisfy { scalar in
                ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_"
                    || scalar == "-"
            }
        return bare ? name : quoted(name)
    }
}

/// Writes TOML tables and key/value lines.
struct TOMLWriter {
    private(set) var text = ""

    mutating func table(_ path: String...) {
        if !text.isEmpty { text += "\n" }
        text += "[\(path.map(TestAgentConf.key).joined(separator: "."))]\n"
    }

    mutating func set(_ key: String, _ value: String?) { if let value { line(key, TestAgentConf.quoted(value)) } }
    mutating func set(_ key: String, _ value: Int?) { if let value { line(key, String(value)) } }
    mutating func set(_ key: String, _ value: Bool?) { if let value { line(key, value ? "true" : "false") } }
    mutating func set(_ key: String, _ value: [String]?) {
        if let value { line(key, "[" + value.map(TestAgentConf.quoted).joined(separator: ", ") + "]") }
    }

    private mutating func line(_ key: String, _ value: String) { text += "\(TestAgentConf.key(key)) = \(value)\n" }

    /// TOML the test wrote itself, on lines of its own.
    mutating func raw(_ lines: String) {
        guard !lines.isEmpty else { return }
        text += lines.hasSuffix("\n") ? lines : lines + "\n"
    }
}
