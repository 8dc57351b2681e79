import FoundationEssentials

/// Whether an app's ring may be promoted, from what its hosts report to Prometheus: the commit
/// every host of the source ring runs live, for at least the soak, never flipped back or
/// quarantined on any host. A ring whose hosts disagree, or one still soaking, waits.
public struct Promotion: Sendable {
    /// One host of the source ring, as its metrics say.
    public struct Host: Sendable, Equatable {
        public var instance: String
        public var sha: String
        /// When its live release went live.
        public var since: Date?
        /// Whether that release is still in probation.
        public var inProbation = false
        /// When its agent last wrote its metrics (nil: not reported).
        public var written: Date?

        public init(instance: String, sha: String, since: Date?, inProbation: Bool = false, written: Date? = nil) {
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
    }

    public var app: String
    public var from: String
    public var hosts: [Host]
    /// Commits flipped back (probation failed) on any host, of any ring.
    public var reverted: Set<String>
    /// Commits quarantined on any host, with the reason.
    public var quarantined: [String: String]
    /// Hosts the source ring must have reporting (`--ring-hosts`); nil: those that do.
    public var ringHosts: Int?
    public var soak: Duration

    public init(
        app: String, from: String, hosts: [Host], reverted: Set<String>, quarantined: [String: String], ringHosts: Int?,
        soak: Duration
    ) {
        self.app = app
        self.from = from
        self.hosts = hosts.sorted { $0.instance < $1.instance }
        self.reverted = reverted
        self.quarantined = quarantined
        self.ringHosts = ringHosts
        self.soak = soak
    }

    public func verdict(now: Date) -> Verdict {
        guard !hosts.isEmpty else { return .wait("no host reports \(app) live on \(from) (jailpilot_live_info)") }
        if let ringHosts, hosts.count < ringHosts {
            return .wait(
                "\(hosts.count) of the \(ringHosts) hosts of \(from) report \(app) live (\(hosts.map(\.instance).joined(separator: ", ")))"
            )
        }
        let shas = Set(hosts.map(\.sha))
        guard shas.count == 1, let sha = shas.first else {
            let who = hosts.map { "\($0.instance) runs \($0.sha.prefix(12))" }.joined(separator: ", ")
            return .wait("the hosts of \(from) run different commits of \(app): \(who)")
        }
        if reverted.contains(sha) { return .wait("\(sha.prefix(12)) was flipped back on a host: it is not promoted") }
        // A failure held against the commit blocks it; a host's refusal (not promoted yet, a
        // key it does not trust) is that host's policy, not the commit's health.
        if let reason = quarantined[sha], !Self.refusals.contains(reason) {
            return .wait("\(sha.prefix(12)) failed on a host (\(reason)): it is not promoted")
        }
        for host in hosts {
            // A stopped or crashed agent's last file is still served by node_exporter: its
            // "since" would keep aging into the soak.
            guard let written = host.written, now.timeIntervalSince(written) < Self.freshness.seconds else {
                let age = host.written.map {
                    "wrote its metrics \(DurationText.format(.seconds(now.timeIntervalSince($0).rounded()))) ago"
                }
                return .wait("\(host.instance) \(age ?? "does not say when it wrote its metrics"): is its agent running?")
            }
            if host.inProbation { return .wait("\(host.instance) still has \(sha.prefix(12)) in probation") }
            guard let since = host.since else {
                return .wait("\(host.instance) does not say since when it runs \(sha.prefix(12))")
            }
            let ran = now.timeIntervalSince(since)
            if ran < soak.seconds {
                return .wait(
                    "\(host.instance) has run \(sha.prefix(12)) for \(DurationText.format(.seconds(max(0, ran.rounded())))) of the \(DurationText.format(soak)) soak"
                )
            }
        }
        return .promote(sha)
    }

    /// How old a host's metrics may be (the agent writes them every 5 s).
    public static let freshness: Duration = .seconds(120)

    /// Asks `prometheus` what the hosts of `from` run.
    public static func ask(
        _ prometheus: PrometheusAPI, app: String, from: String, ringHosts: Int?, soak: Duration
    ) async throws -> Promotion {
        let selector = "app=\"\(Self.escape(app))\""
        let live = try await prometheus.query("jailpilot_live_info{\(selector),branch=\"\(Self.escape(from))\"} == 1")
        let since = try await prometheus.query("jailpilot_live_since_seconds{\(selector)}")
        let reverts = try await prometheus.query("jailpilot_reverts{\(selector)} > 0")
        let quarantined = try await prometheus.query("jailpilot_quarantined_info{\(selector)}")
        let probation = try await prometheus.query("jailpilot_probation{\(selector)} > 0")
        let written = try await prometheus.query("jailpilot_metrics_written_seconds")
        let inProbation = Set(probation.compactMap { $0.labels["instance"] })
        let writtenBy = Dictionary(written.map { ($0.labels["instance"] ?? "?", $0.value) }, uniquingKeysWith: { max($0, $1) })
        func key(_ sample: PrometheusSample) -> String { "\(sample.labels["instance"] ?? "")/\(sample.labels["sha"] ?? "")" }
        let sinceBy = Dictionary(since.map { (key($0), $0.value) }, uniquingKeysWith: { max($0, $1) })
        let hosts = live.compactMap { sample -> Host? in
            guard let sha = sample.labels["sha"] else { return nil }
            let instance = sample.labels["instance"] ?? "?"
            return Host(
                instance: instance, sha: sha, since: sinceBy[key(sample)].map { Date(timeIntervalSince1970: $0) },
                inProbation: inProbation.contains(instance), written: writtenBy[instance].map { Date(timeIntervalSince1970: $0) })
        }
        return Promotion(
            app: app, from: from, hosts: hosts, reverted: Set(reverts.compactMap { $0.labels["sha"] }),
            quarantined: Dictionary(
                quarantined.compactMap { s in s.labels["sha"].map { ($0, s.labels["reason"] ?? "quarantined") } },
                uniquingKeysWith: { a, _ in a }),
            ringHosts: ringHosts, soak: soak)
    }

    /// Quarantine reasons that are refusals by a host's gate (CommitRefusal), not failures.
    static let refusals = Set(CommitRefusal.Reason.allCases.map(\.rawValue))

    /// A PromQL string literal's escapes.
    static func escape(_ text: String) -> String { text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") }
}
