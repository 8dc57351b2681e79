import ArgumentParser
import FoundationEssentials
import Glibc
import JailPilot

struct Promote: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fast-forward a ring's branch to what every host of the ring before it has run long enough.",
        discussion: """
            Stateless: asks Prometheus what the hosts of --from run (the agents' metrics; a host is
            the name its agent exports in jailpilot_host_info, however often it is scraped), and
            when all of them have run one commit live for --soak, never flipped back or failed on
            any host, fast-forwards --to to it with a push. The credentials are given to this
            command only (--token-file or --ssh-key), never to agents. Exits 1 when it promoted
            nothing, saying what it waits for; refuses anything but a fast-forward.
            """)

    @Argument(help: "The app (the `app` label of its metrics).") var app: String
    @Option(help: "The app's git remote (the same as its repo in agent.conf).") var repo: String
    @Option(help: "The ring promoted from.") var from = "main"
    @Option(help: "The ring's branch to fast-forward.") var to = "stable"
    @Option(help: "Prometheus' URL, e.g. http://prometheus:9090.") var prometheus: String
    @Option(help: "Hosts of --from that must report (distinct jailpilot_host_info names); default: those that do.")
    var ringHosts: Int?
    @Option(help: "How long every host must have run the commit live (e.g. 30m, 2h).") var soak = "30m"
    @Flag(help: "Say what would be pushed, push nothing.") var dryRun = false
    @Option(help: "HTTPS: a file whose first line is a token that may push.") var tokenFile: String?
    @Option(help: "HTTPS: the user name sent with the token.") var tokenUser = "git"
    @Option(help: "SSH: a private key that may push (default: the ssh-agent).") var sshKey: String?
    @Option(help: "SSH: the known_hosts file host keys are checked against.") var knownHosts = "/etc/ssh/ssh_known_hosts"
    @Option(help: "Where the remote's objects are kept between runs.") var cache: String?

    func validate() throws {
        if let problem = Names.branchProblem(from) { throw ValidationError("--from '\(from)': \(problem)") }
        if let problem = Names.branchProblem(to) { throw ValidationError("--to '\(to)': \(problem)") }
        if from == to { throw ValidationError("--from and --to are the same branch") }
        if let problem = Names.repoProblem(repo) { throw ValidationError("--repo '\(RemoteAccess.redact(repo))' \(problem)") }
        if DurationText.parse(soak) == nil { throw ValidationError("--soak '\(soak)': give a duration such as 30m or 2h") }
        if let ringHosts, ringHosts < 1 { throw ValidationError("--ring-hosts must be at least 1") }
    }

    func run() async throws {
        let soak = DurationText.parse(self.soak) ?? .seconds(1800)
        let access = RemoteAccess(url: repo, tokenFile: tokenFile, tokenUser: tokenUser, sshKey: sshKey, knownHosts: knownHosts)
        let promotion = try await Promotion.ask(
            PrometheusAPI(url: prometheus), app: app, from: from, ringHosts: ringHosts, soak: soak)
        let sha: String
        switch promotion.verdict(now: Date()) {
        case .promote(let commit): sha = commit
        case .wait(let why):
            print("\(app): nothing promoted: \(why)")
            throw ExitCode(1)
        case .refuse(let why):
            print("\(app): nothing promoted, refused: \(why)")
            throw ExitCode(1)
        }
        // The remote's two branches, fetched into a cache kept between runs.
        let home = ProcessInfo.processInfo.environment["HOME"] ?? "/tmp"
        let root = cache ?? (ProcessInfo.processInfo.environment["XDG_CACHE_HOME"] ?? "\(home)/.cache") + "/jailpilot-promote"
        let mirror = Mirror(path: "\(root)/\(SHA256.hash(Array(repo.utf8)).hexString.prefix(16)).git")
        let fetched = try await mirror.fetch(access, branch: from, also: to)
        guard try await mirror.descends(fetched.head, from: sha) else {
            print("\(app): nothing promoted: \(sha.prefix(12)), which the hosts of \(from) run, is not on \(from) any more")
            throw ExitCode(1)
        }
        let target = await mirror.head(of: to)
        if let target {
            if target == sha {
                print("\(app): nothing promoted: \(to) is at \(sha.prefix(12)) already")
                throw ExitCode(1)
            }
            guard try await mirror.descends(sha, from: target) else {
                throw ValidationError(
                    "\(to) (\(target.prefix(12))) is not an ancestor of \(sha.prefix(12)): promoting would not be a fast-forward; nothing pushed"
                )
            }
        }
        var ahead: Int?
        if let target { ahead = await mirror.commitsAhead(of: target, head: sha) }
        let move =
            "\(to) \(target.map { String($0.prefix(12)) } ?? "(new)") → \(sha.prefix(12))\(ahead.map { " (\($0) commits)" } ?? "")"
        let hosts = promotion.namedHosts.compactMap(\.name).joined(separator: ", ")
        if dryRun {
            print("\(app): would fast-forward \(move): run \(DurationText.format(soak)) or more on \(hosts)")
            return
        }
        try await mirror.push(sha, to: to, access: access)
        print("\(app): fast-forwarded \(move): run \(DurationText.format(soak)) or more on \(hosts)")
    }
}
