import FoundationEssentials

/// Prometheus text-format metrics, written atomically to `[agent] metrics_file` for
/// node_exporter's textfile collector (no HTTP server in the agent).
public actor Metrics {
    private let path: String?
    private var counters: [String: Double] = [:]
    private var gauges: [String: Double] = [:]
    private let help: [String: (type: String, text: String)] = [
        "jailpilot_up": ("gauge", "1 while the agent runs."),
        "jailpilot_polls_total": ("counter", "Polls of an app's remote, by result."),
        "jailpilot_poll_failures_consecutive": ("gauge", "Polls failed in a row (0 when the remote answers)."),
        "jailpilot_deploys_total": ("counter", "Deploys started by the agent, by result."),
        "jailpilot_deploy_seconds": ("gauge", "Duration of the app's last successful deploy."),
        "jailpilot_live_info": ("gauge", "The live release of each app (value 1)."),
    ]

    public init(path: String?) { self.path = path }

    public func count(_ name: String, _ labels: [(String, String)], by value: Double = 1) {
        counters[key(name, labels), default: 0] += value
    }

    public func set(_ name: String, _ labels: [(String, String)], _ value: Double) {
        gauges[key(name, labels)] = value
    }

    /// Replaces all series of `name` whose labels include `app`.
    public func replaceLive(app: String, sha: String) {
        gauges = gauges.filter { !$0.key.hasPrefix("jailpilot_live_info{app=\"\(app)\"") }
        gauges[key("jailpilot_live_info", [("app", app), ("sha", sha)])] = 1
    }

    /// Writes the textfile (a no-op without `metrics_file`).
    public func flush() {
        guard let path else { return }
        var lines: [String] = []
        let all = counters.merging(gauges) { $1 }
        for name in Set(all.keys.map { String($0.prefix { $0 != "{" }) }).sorted() {
            if let h = help[name] { lines += ["# HELP \(name) \(h.text)", "# TYPE \(name) \(h.type)"] }
            for (series, value) in all.filter({ $0.key.prefix { $0 != "{" } == name }).sorted(by: { $0.key < $1.key }) {
                lines.append("\(series) \(value == value.rounded() ? String(Int(value)) : String(value))")
            }
        }
        try? FileIO.makeDirectories(FileIO.parent(path))
        try? FileIO.replace(path, text: lines.joined(separator: "\n") + "\n")
    }

    private func key(_ name: String, _ labels: [(String, String)]) -> String {
        guard !labels.isEmpty else { return name }
        let body = labels.map {
            "\($0)=\"\($1.replacing("\\", with: "\\\\").replacing("\"", with: "\\\""))\""
        }
        return "\(name){\(body.joined(separator: ","))}"
    }
}
