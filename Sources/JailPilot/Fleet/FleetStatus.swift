import FoundationEssentials

/// What every host of a fleet runs, from the agents' metrics in Prometheus: per app, each
/// host's ring, live commit and since when, whether it is behind its branch's head, its hold or
/// pin, and the commits it refused or quarantined.
public struct FleetStatus: Sendable, Codable, Equatable {
    /// One host's view of one app.
    public struct HostApp: Sendable, Codable, Equatable {
        public var host: String
        public var branch: String
        public var promotedFrom: String?
        public var live: String?
        public var liveSince: Date?
        /// The branch head the host last saw, when it is not what it runs.
        public var behindHead: String?
        public var hold: String?
        public var pin: String?
        public var probation: Bool
        /// Quarantined commits: SHA → reason ("not promoted", "probation", ...).
        public var quarantined: [String: String]
    }

    /// Per app, its hosts sorted by ring then name.
    public var apps: [String: [HostApp]]

    /// Asks `prometheus` for every app (or `app` only).
    public static func ask(_ prometheus: PrometheusAPI, app: String? = nil) async throws -> FleetStatus {
        let selector = app.map { "{app=\"\(Promotion.escape($0))\"}" } ?? ""
        func query(_ name: String) async throws -> [PrometheusSample] { try await prometheus.query(name + selector) }
        let live = try await query("jailpilot_live_info")
        let since = try await query("jailpilot_live_since_seconds")
        let heads = try await query("jailpilot_head_info")
        let holds = try await query("jailpilot_hold_info")
        let pins = try await query("jailpilot_pin_info")
        let probation = try await query("jailpilot_probation")
        let quarantined = try await query("jailpilot_quarantined_info")
        var rows: [String: HostApp] = [:]
        func key(_ s: PrometheusSample) -> String? {
            guard let app = s.labels["app"] else { return nil }
            return "\(app)\u{0}\(s.labels["instance"] ?? "?")"
        }
        func row(_ s: PrometheusSample) -> HostApp {
            rows[key(s) ?? ""]
                ?? HostApp(
                    host: s.labels["instance"] ?? "?", branch: s.labels["branch"] ?? "", promotedFrom: nil, live: nil,
                    liveSince: nil, behindHead: nil, hold: nil, pin: nil, probation: false, quarantined: [:])
        }
        for s in live {
            guard let k = key(s) else { continue }
            var r = row(s)
            r.live = s.labels["sha"]
            r.branch = s.labels["branch"] ?? r.branch
            r.promotedFrom = s.labels["promoted_from"].flatMap { $0.isEmpty ? nil : $0 }
            rows[k] = r
        }
        for s in since where rows[key(s) ?? ""]?.live == s.labels["sha"] {
            rows[key(s) ?? ""]?.liveSince = Date(timeIntervalSince1970: s.value)
        }
        for s in heads {
            guard let k = key(s) else { continue }
            var r = row(s)
            if r.branch.isEmpty { r.branch = s.labels["branch"] ?? "" }
            if r.promotedFrom == nil { r.promotedFrom = s.labels["promoted_from"].flatMap { $0.isEmpty ? nil : $0 } }
            if let head = s.labels["sha"], head != r.live { r.behindHead = head }
            rows[k] = r
        }
        for (samples, path) in [(holds, \HostApp.hold), (pins, \HostApp.pin)] {
            for s in samples {
                guard let k = key(s) else { continue }
                var r = row(s)
                r[keyPath: path] = s.labels["sha"]
                rows[k] = r
            }
        }
        for s in probation where s.value > 0 { rows[key(s) ?? ""]?.probation = true }
        for s in quarantined {
            guard let k = key(s), let sha = s.labels["sha"] else { continue }
            var r = row(s)
            r.quarantined[sha] = s.labels["reason"] ?? "quarantined"
            rows[k] = r
        }
        var apps: [String: [HostApp]] = [:]
        for (k, r) in rows where !k.isEmpty {
            apps[String(k.prefix { $0 != "\u{0}" }), default: []].append(r)
        }
        for name in apps.keys { apps[name]?.sort { ($0.branch, $0.host) < ($1.branch, $1.host) } }
        return FleetStatus(apps: apps)
    }

    /// One block per app, one line per host.
    public func text(now: Date = Date()) -> String {
        guard !apps.isEmpty else { return "no jailpilot metrics in Prometheus (is node_exporter reading [agent] metrics_file?)" }
        var lines: [String] = []
        for name in apps.keys.sorted() {
            lines.append(name)
            for r in apps[name] ?? [] {
                let ring = r.branch + (r.promotedFrom.map { " (from \($0))" } ?? "")
                var line = "  \(r.host)  \(ring)  "
                if let live = r.live {
                    line += "live \(live.prefix(12))"
                    if let since = r.liveSince {
                        line += " for \(DurationText.format(.seconds(max(0, now.timeIntervalSince(since).rounded()))))"
                    }
                } else {
                    line += "nothing live"
                }
                if r.probation { line += ", in probation" }
                if let head = r.behindHead { line += ", BEHIND \(r.branch) (head \(head.prefix(12)))" }
                if let hold = r.hold { line += ", held at \(hold.prefix(12))" }
                if let pin = r.pin { line += ", pinned at \(pin.prefix(12))" }
                for (sha, reason) in r.quarantined.sorted(by: { $0.key < $1.key }) {
                    line += ", \(reason == "not promoted" ? "refused" : "quarantined") \(sha.prefix(12)) (\(reason))"
                }
                lines.append(line)
            }
        }
        return lines.joined(separator: "\n")
    }
}
