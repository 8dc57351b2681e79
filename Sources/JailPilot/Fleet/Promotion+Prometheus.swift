import FoundationEssentials

extension Promotion {
    /// Asks `prometheus` what the hosts of `from` run. Each series is tied to its agent's host
    /// name through its scrape target: the labels Prometheus adds (`instance`, `job`, any
    /// others), the same on every series of one target, and on its `jailpilot_host_info`.
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
        let hostInfo = try await prometheus.query("jailpilot_host_info")
        // Every fold below is of a set or a max: the answer's order changes nothing.
        var names: [String: Set<String>] = [:]
        for sample in hostInfo {
            if let host = sample.labels["host"] { names[target(sample, own: ["host"]), default: []].insert(host) }
        }
        let inProbation = Set(probation.map { target($0, own: ["app"]) })
        let writtenBy = Dictionary(written.map { (target($0, own: []), $0.value) }, uniquingKeysWith: { max($0, $1) })
        let sinceBy = Dictionary(
            since.map { ("\(target($0, own: ["app", "sha"]))\u{0}\($0.labels["sha"] ?? "")", $0.value) },
            uniquingKeysWith: { max($0, $1) })
        let hosts = live.compactMap { sample -> Host? in
            guard let sha = sample.labels["sha"] else { return nil }
            let origin = target(sample, own: ["app", "sha", "branch", "promoted_from"])
            let name = names[origin].flatMap { $0.count == 1 ? $0.first : nil }
            return Host(
                instance: label(of: sample), sha: sha,
                since: sinceBy["\(origin)\u{0}\(sha)"].map { Date(timeIntervalSince1970: $0) },
                inProbation: inProbation.contains(origin), written: writtenBy[origin].map { Date(timeIntervalSince1970: $0) },
                name: name)
        }
        var reasons: [String: Set<String>] = [:]
        for sample in quarantined {
            if let sha = sample.labels["sha"] { reasons[sha, default: []].insert(sample.labels["reason"] ?? "quarantined") }
        }
        return Promotion(
            app: app, from: from, hosts: hosts, reverted: Set(reverts.compactMap { $0.labels["sha"] }), quarantined: reasons,
            ringHosts: ringHosts, soak: soak)
    }

    /// The scrape target `sample` came from: its labels but the metric's name and `own` (the
    /// labels the agent writes on that metric).
    static func target(_ sample: PrometheusSample, own: Set<String>) -> String {
        sample.labels.filter { $0.key != "__name__" && !own.contains($0.key) }.sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value)" }.joined(separator: "\u{0}")
    }

    /// How a message names the target of `sample`: its instance, and its job.
    static func label(of sample: PrometheusSample) -> String {
        (sample.labels["instance"] ?? "?") + (sample.labels["job"].map { " (job \($0))" } ?? "")
    }

    /// A PromQL string literal's escapes.
    static func escape(_ text: String) -> String { text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") }
}
