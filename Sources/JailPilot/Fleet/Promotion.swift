import FoundationEssentials

/// Whether an app's ring may be promoted, from what its hosts report to Prometheus: the commit
/// every host of the source ring runs live, for at least the soak, never flipped back or
/// failed on any host. A ring whose hosts disagree, or one still soaking, waits; series that
/// cannot be hosts (two commits claimed for one host, no host name) are refused.
///
/// Hosts are counted by the name each agent gives its own (`jailpilot_host_info{host}`), not
/// by Prometheus' series: one host scraped by two jobs, or under two instance names, is one.
public struct Promotion: Sendable {
    /// One series of the source ring's live release, as one scrape target of Prometheus has it.
    public struct Host: Sendable, Equatable {
        /// The agent's own name for its host (the `host` label of its `jailpilot_host_info`);
        /// nil when its target exports none (or several).
        public var name: String?
        /// Where Prometheus scraped it: its `instance`, and its `job` when there is one.
        public var instance: String
        public var sha: String
        /// When its live release went live.
        public var since: Date?
        /// Whether that release is still in probation.
        public var inProbation = false
        /// When its agent last wrote its metrics (nil: not reported).
        public var written: Date?

        public init(
            instance: String, sha: String, since: Date?, inProbation: Bool = false, written: Date? = nil, name: String? = nil
        ) {
            self.name = name
            self.instance = instance
            self.sha = sha
            self.since = since
            self.inProbation = inProbation
            self.written = written
        }
    }

    /// What `promote` may do.
    public enum Verdict: Sendable, Equatable {
        /// Fast-forward the target ring to this commit.
        case promote(String)
        /// Nothing yet; why.
        case wait(String)
        /// Nothing: what Prometheus reports cannot be trusted as the ring's hosts; why.
        case refuse(String)
    }

    public var app: String
    public var from: String
    /// The source ring's live series, one per scrape target (several may be one host).
    public var hosts: [Host]
    /// Commits flipped back (probation failed) on any host, of any ring.
    public var reverted: Set<String>
    /// Commits quarantined on any host, with every reason a host gives.
    public var quarantined: [String: Set<String>]
    /// Hosts the source ring must have reporting (`--ring-hosts`); nil: those that do.
    public var ringHosts: Int?
    public var soak: Duration

    public init(
        app: String, from: String, hosts: [Host], reverted: Set<String>, quarantined: [String: Set<String>], ringHosts: Int?,
        soak: Duration
    ) {
        self.app = app
        self.from = from
        self.hosts = hosts.sorted { ($0.name ?? "", $0.instance, $0.sha) < ($1.name ?? "", $1.instance, $1.sha) }
        self.reverted = reverted
        self.quarantined = quarantined
        self.ringHosts = ringHosts
        self.soak = soak
    }

    /// The ring's hosts by name, each host's series merged (`Host.merged`); sorted by name.
    /// Call after `verdict` has found no refusal.
    public var namedHosts: [Host] {
        Dictionary(grouping: hosts.filter { $0.name != nil }, by: { $0.name ?? "" }).sorted { $0.key < $1.key }.map {
            Host.merged($0.value)
        }
    }

    public func verdict(now: Date) -> Verdict {
        guard !hosts.isEmpty else { return .wait("no host reports \(app) live on \(from) (jailpilot_live_info)") }
        if let refusal = refusal() { return .refuse(refusal) }
        let hosts = namedHosts
        if let ringHosts, hosts.count < ringHosts {
            let names = hosts.map { $0.name ?? "" }.joined(separator: ", ")
            return .wait("\(hosts.count) of the \(ringHosts) hosts of \(from) report \(app) live (\(names))")
        }
        let shas = Set(hosts.map(\.sha))
        guard shas.count == 1, let sha = shas.first else {
            let who = hosts.map { "\($0.name ?? "") runs \($0.sha.prefix(12))" }.joined(separator: ", ")
            return .wait("the hosts of \(from) run different commits of \(app): \(who)")
        }
        if reverted.contains(sha) { return .wait("\(sha.prefix(12)) was flipped back on a host: it is not promoted") }
        // A failure held against the commit anywhere blocks it; a host's refusal (not promoted
        // yet, a key it does not trust) is that host's policy, not the commit's health.
        let failures = (quarantined[sha] ?? []).subtracting(Self.refusals)
        if !failures.isEmpty {
            return .wait("\(sha.prefix(12)) failed on a host (\(failures.sorted().joined(separator: ", "))): it is not promoted")
        }
        for host in hosts {
            let name = host.name ?? host.instance
            // A stopped or crashed agent's last file is still served by node_exporter: its
            // "since" would keep aging into the soak.
            guard let written = host.written, now.timeIntervalSince(written) < Self.freshness.seconds else {
                let age = host.written.map {
                    "wrote its metrics \(DurationText.format(.seconds(now.timeIntervalSince($0).rounded()))) ago"
                }
                return .wait("\(name) \(age ?? "does not say when it wrote its metrics"): is its agent running?")
            }
            if host.inProbation { return .wait("\(name) still has \(sha.prefix(12)) in probation") }
            guard let since = host.since else {
                return .wait("\(name) does not say since when it runs \(sha.prefix(12))")
            }
            let ran = now.timeIntervalSince(since)
            if ran < soak.seconds {
                return .wait(
                    "\(name) has run \(sha.prefix(12)) for \(DurationText.format(.seconds(max(0, ran.rounded())))) of the \(DurationText.format(soak)) soak"
                )
            }
        }
        return .promote(sha)
    }

    /// Why the series cannot be counted as the ring's hosts: one without a host name, or two
    /// that claim one host with different commits (an agent runs one release of an app).
    func refusal() -> String? {
        let unnamed = hosts.filter { $0.name == nil }
        if !unnamed.isEmpty {
            return "\(unnamed.map(\.instance).joined(separator: ", ")) report \(app) live on \(from) without one "
                + "jailpilot_host_info{host} beside it, so it cannot be counted as a host: does node_exporter read the "
                + "agent's metrics_file there (an agent writes its host name into it at start)?"
        }
        for (name, series) in Dictionary(grouping: hosts, by: { $0.name ?? "" }).sorted(by: { $0.key < $1.key })
        where Set(series.map(\.sha)).count > 1 {
            let claims = series.map { "\($0.sha.prefix(12)) at \($0.instance)" }.joined(separator: ", ")
            return "\(series.count) series claim host \(name) with different live commits of \(app) (\(claims)): one "
                + "agent runs one release of an app, so another machine reports this host's name or a target is stale; "
                + "give each agent's host its own name and scrape it once"
        }
        return nil
    }

    /// How old a host's metrics may be (the agent writes them every 5 s).
    public static let freshness: Duration = .seconds(120)

    /// Quarantine reasons that are refusals by a host's gate (CommitRefusal), not failures.
    static let refusals = Set(CommitRefusal.Reason.allCases.map(\.rawValue))
}

extension Promotion.Host {
    /// One host's series as one, the most cautious of them speaking for it: the latest `since`,
    /// the oldest `written`, in probation if any says so. `series` share a name and a commit.
    static func merged(_ series: [Promotion.Host]) -> Promotion.Host {
        var host = series[0]
        host.instance = series.map(\.instance).joined(separator: ", ")
        host.since = series.contains { $0.since == nil } ? nil : series.compactMap(\.since).max()
        host.written = series.contains { $0.written == nil } ? nil : series.compactMap(\.written).min()
        host.inProbation = series.contains(where: \.inProbation)
        return host
    }
}
