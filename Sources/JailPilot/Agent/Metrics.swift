import FoundationEssentials

/// Prometheus text-format metrics, written atomically to `[agent] metrics_file` for
/// node_exporter's textfile collector (no HTTP server in the agent).
public actor Metrics {
    private let path: String?
    /// Where a metrics file that cannot be written is said (once).
    private let log: EventLog?
    /// The series by family name, each family's text kept until one of its series changes: an
    /// idle agent re-renders only the poll counters at each write (docs/BENCHMARKS.md).
    var families: [String: Family] = [:]

    /// One metric family: its series by key (`name{labels}`) and, while unchanged, its text.
    struct Family {
        var series: [String: Double] = [:]
        var text: String?

        subscript(key: String) -> Double? {
            get { series[key] }
            set {
                guard series[key] != newValue else { return }
                series[key] = newValue
                text = nil
            }
        }

        /// Drops the series `remove` says go.
        mutating func removeAll(where remove: (String) -> Bool) {
            let before = series.count
            series = series.filter { !remove($0.key) }
            if series.count != before { text = nil }
        }
    }

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

    /// Writes to `path` (nil: nowhere); a file that cannot be written is said once in `log`.
    public init(path: String?, log: EventLog? = nil) {
        self.path = path
        self.log = log
    }

    /// Whether anything is written (`[agent] metrics_file` is set).
    var hasFile: Bool { path != nil }

    /// The metric names the agent writes (the alert rules and dashboard use only these).
    public static var names: Set<String> { Set(help.keys) }

    public func count(_ name: String, _ labels: [(String, String)], by value: Double = 1) {
        let key = key(name, labels)
        families[name, default: Family()][key] = (families[name]?[key] ?? 0) + value
    }

    public func set(_ name: String, _ labels: [(String, String)], _ value: Double) {
        families[name, default: Family()][key(name, labels)] = value
    }

    /// Writes the textfile (a no-op without `metrics_file`).
    public func flush() {
        guard let path else { return }
        set("jailpilot_metrics_written_seconds", [], Date().timeIntervalSince1970.rounded())
        var text = ""
        for name in families.keys.sorted() {
            guard var family = families[name], !family.series.isEmpty else { continue }
            if family.text == nil {
                family.text = Self.render(name, family.series)
                families[name] = family
            }
            text += family.text ?? ""
        }
        // Written every time, changed or not: its mtime is how node_exporter (and alerts on
        // node_textfile_mtime_seconds) tell a live agent from a stopped one.
        do {
            try FileIO.makeDirectories(FileIO.parent(path))
            try FileIO.replace(path, text: text)
        } catch {
            log?.emitOnce(
                key: "metrics.write_failed \(path)",
                Event(
                    app: "-", name: "metrics.write_failed",
                    fields: [
                        ("file", path), ("error", "\(error)"),
                        (
                            "effect",
                            "node_exporter keeps the last file written: its metrics go stale (node_textfile_mtime_seconds)"
                        ),
                        (
                            "fix",
                            "make metrics_file's directory writable by the agent, or free its disk; retried every 5 s, said once"
                        ),
                    ]))
        }
    }

    /// A family in the text format: HELP and TYPE, then its series sorted.
    static func render(_ name: String, _ series: [String: Double]) -> String {
        var text = ""
        text.reserveCapacity(64 * series.count + 128)
        if let h = help[name] { text += "# HELP \(name) \(h.text)\n# TYPE \(name) \(h.type)\n" }
        for (key, value) in series.sorted(by: { $0.key < $1.key }) {
            text += "\(key) \(value == value.rounded() ? String(Int(value)) : String(value))\n"
        }
        return text
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
