import FoundationEssentials

/// Prometheus text-format metrics, written atomically to `[agent] metrics_file` for
/// node_exporter's textfile collector (no HTTP server in the agent).
public actor Metrics {
    private let path: String?
    var counters: [String: Double] = [:]
    var gauges: [String: Double] = [:]
    static let help: [String: (type: String, text: String)] = [
        "jailpilot_up": ("gauge", "1 while the agent runs."),
        "jailpilot_polls_total": ("counter", "Polls of an app's remote, by result."),
        "jailpilot_poll_failures_consecutive": ("gauge", "Polls failed in a row (0 when the remote answers)."),
        "jailpilot_deploys_total": ("counter", "Deploys started by the agent, by result (ok, failed, refused)."),
        "jailpilot_deploy_seconds": ("gauge", "Duration of the app's last successful deploy."),
        "jailpilot_live_info": ("gauge", "The live release of each app, with its branch and ring (value 1)."),
        "jailpilot_live_since_seconds": ("gauge", "When the app's live release went live (unix time)."),
        "jailpilot_probation": ("gauge", "1 while the app's live release is in probation."),
        "jailpilot_reverts": ("gauge", "Flip-backs of a commit in the app's timeline."),
        "jailpilot_quarantined_info": (
            "gauge", "A commit the agent will not deploy until something changes, and why (value: when)."
        ),
        "jailpilot_hold_info": ("gauge", "A hold (a rollback) keeps the app at this commit (value: since when)."),
        "jailpilot_pin_info": ("gauge", "agent.conf pins the app at this commit (value 1)."),
        "jailpilot_host_info": ("gauge", "The host this agent runs on (value 1)."),
        "jailpilot_head_info": ("gauge", "The head of the app's branch as the agent last saw it (value 1)."),
        "jailpilot_metrics_written_seconds": (
            "gauge", "When the agent wrote this file (unix time): its age tells a stopped agent."
        ),
        "jailpilot_live_unverified": ("gauge", "1 while the app's live release no longer verifies against its keys."),
        "jailpilot_notifications_undelivered": ("gauge", "Notifications waiting for their receiver."),
    ]

    public init(path: String?) { self.path = path }

    /// Whether anything is written (`[agent] metrics_file` is set).
    var hasFile: Bool { path != nil }

    /// The metric names the agent writes (the alert rules and dashboard use only these).
    public static var names: Set<String> { Set(help.keys) }

    public func count(_ name: String, _ labels: [(String, String)], by value: Double = 1) {
        counters[key(name, labels), default: 0] += value
    }

    public func set(_ name: String, _ labels: [(String, String)], _ value: Double) {
        gauges[key(name, labels)] = value
    }

    /// Writes the textfile (a no-op without `metrics_file`).
    public func flush() {
        guard let path else { return }
        gauges["jailpilot_metrics_written_seconds"] = Date().timeIntervalSince1970.rounded()
        // One sort of every series; a family's HELP and TYPE before its first one. ("{" sorts
        // after the letters and "_", so `a_b{…}` may follow `a_bc`: families are told by name.)
        var text = ""
        text.reserveCapacity(64 * (counters.count + gauges.count))
        var family = ""
        let all = counters.merging(gauges) { $1 }.map {
            (name: String($0.key.prefix { $0 != "{" }), series: $0.key, value: $0.value)
        }
        for (name, series, value) in all.sorted(by: { ($0.name, $0.series) < ($1.name, $1.series) }) {
            if name != family {
                family = name
                if let h = Self.help[name] { text += "# HELP \(name) \(h.text)\n# TYPE \(name) \(h.type)\n" }
            }
            text += "\(series) \(value == value.rounded() ? String(Int(value)) : String(value))\n"
        }
        // Written every time, changed or not: its mtime is how node_exporter (and alerts on
        // node_textfile_mtime_seconds) tell a live agent from a stopped one.
        try? FileIO.makeDirectories(FileIO.parent(path))
        try? FileIO.replace(path, text: text)
    }

    func key(_ name: String, _ labels: [(String, String)]) -> String {
        guard !labels.isEmpty else { return name }
        // The text format's label value escapes: backslash, double quote, line feed.
        let body = labels.map {
            "\($0)=\"\($1.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"").replacing("\n", with: "\\n"))\""
        }
        return "\(name){\(body.joined(separator: ","))}"
    }
}
