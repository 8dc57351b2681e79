/// `[apps.NAME]` tables and the checks that span apps.
extension ConfigLoader {
    static let appKeys =
        [
            "repo", "branch", "pin", "hostnames", "build", "build_env", "build_path", "build_dir", "build_timeout",
            "build_network", "max_tree_size",
            "memory",
            "cpu", "disk", "reach", "service", "args", "files", "env", "env_files", "data", "release", "release_timeout",
            "port", "health", "drain_timeout",
            "keep", "strategy", "token_file", "token_user", "ssh_key", "known_hosts", "health_passes", "health_timeout",
            "health_deadline", "probation", "allow_rewind", "webhook_secret", "promoted_from",
        ] + verificationKeys
    static let defaultBuild = ["go", "build", "-o", "{out}", "."]

    static func readApp(_ t: TableReader, name: String, agent: AgentSettings, jails: JailSettings) -> AppConfig? {
        t.rejectUnknown(known: appKeys)
        let before = t.issues.issues.count
        let repo = t.string("repo", example: "\"https://example.org/me/\(name).git\"")
        if repo == nil && t.table["repo"] == nil {
            t.issues.add(t.key("repo"), "is missing; every app needs repo = \"https://host/owner/\(name).git\"")
        }
        if let repo, let problem = Names.repoProblem(repo) { t.issues.add(t.key("repo"), "'\(repo)' \(problem)") }
        let branch = t.string("branch", example: "\"main\"") ?? "main"
        if let problem = Names.branchProblem(branch) { t.issues.add(t.key("branch"), "'\(branch)': \(problem)") }
        let promotedFrom = t.string("promoted_from", example: "\"main\"")
        if let ring = promotedFrom {
            if let problem = Names.branchProblem(ring) {
                t.issues.add(t.key("promoted_from"), "'\(ring)': \(problem)")
            } else if ring == branch {
                t.issues.add(
                    t.key("promoted_from"),
                    "'\(ring)' is the branch this app follows; name the ring before it (e.g. branch = \"stable\", promoted_from = \"main\")"
                )
            }
        }
        var pin = t.string("pin", example: "\"3f2c1e0a9b7d\"")
        if let p = pin {
            if let problem = Names.shaProblem(p) {
                t.issues.add(t.key("pin"), "'\(p)' \(problem); delete the line to follow the branch")
            }
            pin = p.lowercased()
        }
        let hostnames = t.strings("hostnames", example: "[\"\(name).example.org\"]") ?? []
        if hostnames.isEmpty {
            t.issues.add(t.key("hostnames"), "needs at least one hostname, e.g. hostnames = [\"\(name).example.org\"]")
        }
        for host in hostnames {
            if let problem = Names.hostnameProblem(host) { t.issues.add(t.key("hostnames"), "'\(host)' \(problem)") }
        }
        if Set(hostnames).count != hostnames.count { t.issues.add(t.key("hostnames"), "lists a hostname twice") }
        let build = t.strings("build", example: "[\"go\", \"build\", \"-o\", \"{out}\", \".\"]") ?? defaultBuild
        if build.isEmpty || build[0].isEmpty {
            t.issues.add(t.key("build"), "must name a program, e.g. [\"go\", \"build\", \"-o\", \"{out}\", \".\"]")
        } else if !build.contains(where: { $0.contains("{out}") }) {
            t.issues.add(t.key("build"), "must write the binary to {out}, e.g. [\"go\", \"build\", \"-o\", \"{out}\", \".\"]")
        }
        let service = t.string("service", example: "\"\(name)\"") ?? name
        if let problem = Names.serviceNameProblem(service) { t.issues.add(t.key("service"), "'\(service)' \(problem)") }
        let port = t.int("port", example: "8080") ?? 8080
        if !(1...65535).contains(port) { t.issues.add(t.key("port"), "\(port) is not a TCP port (1-65535)") }
        let health = t.string("health", example: "\"/up\"") ?? "/up"
        if !health.hasPrefix("/") || health.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value >= 0x7f }) {
            t.issues.add(t.key("health"), "'\(health)' must be a URL path starting with '/', e.g. \"/up\"")
        }
        let keep = t.int("keep", example: "3") ?? 3
        if keep < 1 || keep > 100 {
            t.issues.add(t.key("keep"), "\(keep) is out of range; keep at least 1 prior release (at most 100), e.g. keep = 3")
        }
        let tokenFile = t.string("token_file", example: "\"/usr/local/etc/jailpilot/\(name).token\"")
        if let f = tokenFile {
            checkPath(t, "token_file", f)
            if let repo, !repo.hasPrefix("https://") && !repo.hasPrefix("http://") {
                t.issues.add(
                    t.key("token_file"), "a token is only sent over http(s); this repo is '\(RemoteAccess.redact(repo))'")
            } else if let repo, repo.hasPrefix("http://"), !RemoteAccess.isLoopback(repo) {
                t.issues.add(
                    t.key("token_file"),
                    "plain http:// would send the token in cleartext to '\(RemoteAccess.redact(repo))'; use https:// (http:// is allowed for a loopback address only)"
                )
            }
        }
        if let repo, (repo.hasPrefix("https://") || repo.hasPrefix("http://")), RemoteAccess.userinfo(repo) != nil {
            t.issues.add(
                t.key("repo"),
                "the repo URL carries credentials ('\(RemoteAccess.redact(repo))'), which would show in logs and status; put the token in token_file (and the user name in token_user)"
            )
        }
        let sshKey = t.string("ssh_key", example: "\"/usr/local/etc/jailpilot/id_ed25519\"")
        if let k = sshKey {
            checkPath(t, "ssh_key", k)
            if let repo, !Names.isSSH(repo) {
                t.issues.add(t.key("ssh_key"), "an SSH key needs an ssh:// or user@host:path repo; this repo is '\(repo)'")
            }
        }
        let passes = t.int("health_passes", example: "3") ?? 3
        if !(1...100).contains(passes) { t.issues.add(t.key("health_passes"), "\(passes) must be between 1 and 100") }
        let knownHosts = t.string("known_hosts", example: "\"/etc/ssh/ssh_known_hosts\"") ?? agent.knownHosts
        var app = AppConfig(
            name: name, repo: repo ?? "", branch: branch, pin: pin, hostnames: hostnames, build: build,
            buildEnv: t.stringTable("build_env", example: "{ GOFLAGS = \"-trimpath\" }") ?? [:],
            buildTimeout: t.duration("build_timeout", example: "10m", range: .milliseconds(100)...(.seconds(86400)))
                ?? agent.buildTimeout,
            service: service, port: port, health: health, keep: keep, healthPasses: passes,
            healthTimeout: t.duration("health_timeout", example: "2s", range: .milliseconds(100)...(.seconds(300)))
                ?? .seconds(2),
            healthDeadline: t.duration("health_deadline", example: "30s", range: .seconds(1)...(.seconds(3600))) ?? .seconds(30),
            probation: t.duration("probation", example: "30s", range: .milliseconds(100)...(.seconds(86400))) ?? .seconds(30),
            tokenFile: tokenFile,
            tokenUser: t.string("token_user", example: "\"git\"") ?? "git", sshKey: sshKey, knownHosts: knownHosts)
        app.promotedFrom = promotedFrom
        if let text = t.string("strategy", example: "\"stop-first\"") {
            if let strategy = DeployStrategy(rawValue: text) {
                app.strategy = strategy
            } else {
                t.issues.add(
                    t.key("strategy"),
                    "'\(text)' is not a strategy; write \"start-first\" (the default) or \"stop-first\" (for data one process may use at a time)"
                )
            }
        }
        readBuildPlace(t, into: &app)
        app.drainTimeout =
            t.duration("drain_timeout", example: "5m", range: .seconds(1)...(.seconds(86400))) ?? app.drainTimeout
        app.maxTreeSize = t.size("max_tree_size", example: "256MiB", range: (1 << 10)...(64 << 30)) ?? app.maxTreeSize
        app.buildNetwork = t.bool("build_network") ?? app.buildNetwork
        app.limits = t.limits(over: jails.limits)
        for text in t.strings("reach", example: "[\"host:5432\", \"app:api\"]") ?? [] {
            if let opening = JailNetworkPolicy.Reach.parse(text) {
                app.reach.append(opening)
            } else {
                t.issues.add(
                    t.key("reach"),
                    "'\(text)' is not an opening; write \"host:PORT\" (a port on this host) or \"app:NAME\" (another app)")
            }
        }
        readEnvironment(t, into: &app)
        readData(t, into: &app)
        app.verification = readVerification(t, over: agent.verification, app: name)
        if let secret = t.string("webhook_secret", example: "\"/usr/local/etc/jailpilot/\(name).webhook\"") {
            checkPath(t, "webhook_secret", secret)
            app.webhookSecret = secret
        }
        return t.issues.issues.count == before ? app : nil
    }

    /// `build_path` (the build's PATH: which Go) and `build_dir` (where in the tree it runs).
    static func readBuildPlace(_ t: TableReader, into app: inout AppConfig) {
        if let path = t.string("build_path", example: "\"/usr/local/go126/bin:/usr/local/bin:/usr/bin:/bin\"") {
            if let problem = buildPathProblem(path) { t.issues.add(t.key("build_path"), "'\(path)' \(problem)") }
            app.buildPath = path
        }
        if let dir = t.string("build_dir", example: "\"backend\"") {
            let parts = dir.split(separator: "/", omittingEmptySubsequences: false)
            if dir.hasPrefix("/") || parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." })
                || dir.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f })
            {
                t.issues.add(
                    t.key("build_dir"), "'\(dir)' must be a plain relative directory of the tree, e.g. build_dir = \"backend\"")
            }
            app.buildDir = dir
        }
    }

    /// Why a `build_path` cannot be the build's PATH: absolute directories, ':'-separated.
    static func buildPathProblem(_ path: String) -> String? {
        let dirs = path.split(separator: ":", omittingEmptySubsequences: false)
        if dirs.contains(where: { !$0.hasPrefix("/") }) {
            return "must list absolute directories separated by ':', e.g. \"/usr/local/go126/bin:/usr/bin:/bin\""
        }
        if dirs.contains(where: { $0.split(separator: "/").contains("..") }) { return "must not contain '..'" }
        if path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) { return "holds a control character" }
        return nil
    }

    /// `env` (plain variables) and `env_files` (root-only secrets files, read at each deploy).
    static func readEnvironment(_ t: TableReader, into app: inout AppConfig) {
        let env = t.stringTable("env", example: "{ LOG_LEVEL = \"info\" }") ?? [:]
        for (name, value) in env {
            if let problem = Names.envNameProblem(name) { t.issues.add(t.key("env"), problem) }
            if value.contains("\0") { t.issues.add(t.key("env"), "the value of \(name) holds a NUL byte") }
        }
        app.env = env
        app.envFiles = t.strings("env_files", example: "[\"/usr/local/etc/jailpilot/\(app.name).env\"]") ?? []
        for file in app.envFiles { checkPath(t, "env_files", file) }
    }

    /// `data` (the persistent data directory inside the jail) and the `release` step.
    static func readData(_ t: TableReader, into app: inout AppConfig) {
        if let data = t.string("data", example: "\"/var/db/\(app.name)\"") {
            if let problem = Names.dataPathProblem(data) {
                t.issues.add(t.key("data"), "'\(data)' \(problem), e.g. data = \"/var/db/\(app.name)\"")
            }
            app.data = data
        }
        app.release = t.strings("release", example: "[\"/usr/local/bin/\(app.service)\", \"migrate\"]") ?? []
        if let program = app.release.first, !program.hasPrefix("/") {
            t.issues.add(
                t.key("release"),
                "must start with the program's absolute path in the jail, e.g. [\"/usr/local/bin/\(app.service)\", \"migrate\"]")
        }
        if app.release.contains(where: { $0.contains("\0") }) { t.issues.add(t.key("release"), "an argument holds a NUL byte") }
        if t.table["release"] != nil && app.release.isEmpty {
            t.issues.add(t.key("release"), "is empty; delete the line for no release step")
        }
        readArgs(t, into: &app)
        readFiles(t, into: &app)
        app.releaseTimeout =
            t.duration("release_timeout", example: "5m", range: .seconds(1)...(.seconds(86400))) ?? app.releaseTimeout
    }

    /// `args`: the service's argv after its binary. Any text but NUL (each is quoted into the
    /// start script); bounded so that a start script stays a script.
    static func readArgs(_ t: TableReader, into app: inout AppConfig) {
        app.args = t.strings("args", example: "[\"serve\", \"/usr/local/etc/\(app.name).yml\"]") ?? []
        if app.args.contains(where: { $0.contains("\0") }) { t.issues.add(t.key("args"), "an argument holds a NUL byte") }
        if app.args.count > 256 || app.args.reduce(0, { $0 + $1.utf8.count }) > 65536 {
            t.issues.add(t.key("args"), "holds \(app.args.count) arguments; at most 256, 64 KiB in all")
        }
    }

    /// `files`: jail path = host path. A jail path is a plain absolute path outside what
    /// jailpilot writes itself (the binary, its start script, the environment) and outside
    /// `data` (the volume is mounted over it); a host path is checked as `env_files` are.
    static func readFiles(_ t: TableReader, into app: inout AppConfig) {
        let example = "{ \"/usr/local/etc/\(app.name).yml\" = \"/usr/local/etc/jailpilot/\(app.name).yml\" }"
        app.files = t.stringTable("files", example: example) ?? [:]
        if app.files.count > 64 { t.issues.add(t.key("files"), "lists \(app.files.count) files; at most 64") }
        for (jailPath, hostPath) in app.files.sorted(by: { $0.key < $1.key }) {
            if let problem = Names.jailFileProblem(jailPath, service: app.service, data: app.data) {
                t.issues.add(t.key("files"), "'\(jailPath)' \(problem), e.g. files = \(example)")
            }
            checkPath(t, "files", hostPath)
        }
    }

    static func crossCheck(_ apps: [AppConfig], issues: IssueCollector) {
        var owner: [String: String] = [:]
        for app in apps {
            for case .app(let target) in app.reach where target == app.name || !apps.contains(where: { $0.name == target }) {
                issues.add(
                    "apps.\(app.name).reach",
                    target == app.name
                        ? "an app always reaches itself; remove 'app:\(target)'" : "'app:\(target)' names no app in this file")
            }
            for host in app.hostnames {
                if let other = owner[host] {
                    issues.add(
                        "apps.\(app.name).hostnames",
                        "'\(host)' is already served by app '\(other)' (line \(issues.map.line(of: "apps.\(other).hostnames") ?? 0)); a hostname belongs to one app"
                    )
                } else {
                    owner[host] = app.name
                }
            }
        }
    }
}
