import FoundationEssentials

extension Metrics {
    /// The series a fleet reads from every host (Prometheus, `jailpilot fleet status`): what
    /// each app runs, on which branch and ring, since when, in probation or not; the commits it
    /// will not deploy and why; holds and pins; and this host's name.
    static let releaseFamilies = [
        "jailpilot_live_info", "jailpilot_live_since_seconds", "jailpilot_probation", "jailpilot_reverts",
        "jailpilot_quarantined_info", "jailpilot_hold_info", "jailpilot_pin_info", "jailpilot_host_info",
        "jailpilot_head_info",
    ]

    /// Quarantined commits exported per app: the newest.
    static let quarantinedPerApp = 20

    /// Replaces `apps`' series with what `store` says of them now (the others' stay); with
    /// `host` (all of agent.conf's apps), all of them, so that a removed app's go too, and says
    /// which host this is.
    public func describeReleases(_ apps: [AppConfig], store: StateStore, host: String? = nil) {
        // Without metrics_file nobody reads them: no store queries for nothing.
        guard hasFile else { return }
        // Series keys start `name{app="APP",…}` when they are about an app.
        let names = Set(apps.map { key("", [("app", $0.name)]).dropLast() })
        func family(_ series: String) -> Substring { series.prefix { $0 != "{" } }
        /// nil when `series` is about no app; else whether it is about one of `apps`.
        func aboutApps(_ series: String) -> Bool? {
            guard let start = series.firstIndex(of: "{"), series[start...].hasPrefix("{app=\"") else { return nil }
            let labels = series[start...]
            return names.contains { labels.hasPrefix($0 + ",") || labels.hasPrefix($0 + "}") }
        }
        if let host {
            // All of agent.conf's apps: every fleet series is made again, and an app gone from
            // agent.conf takes all its series with it (its failing polls would keep an alert firing).
            func stays(_ series: String) -> Bool {
                !Self.releaseFamilies.contains(String(family(series))) && aboutApps(series) != false
            }
            gauges = gauges.filter { stays($0.key) }
            counters = counters.filter { stays($0.key) }
            gauges[key("jailpilot_host_info", [("host", host)])] = 1
        } else {
            gauges = gauges.filter { !(Self.releaseFamilies.contains(String(family($0.key))) && aboutApps($0.key) == true) }
        }
        for app in apps {
            let ring = [("branch", app.branch), ("promoted_from", app.promotedFrom ?? "")]
            if let live = try? store.live(app: app.name) {
                gauges[key("jailpilot_live_info", [("app", app.name), ("sha", live.sha)] + ring)] = 1
                let since = ((try? store.liveSince(app: app.name, sha: live.sha)) ?? nil) ?? live.updated
                gauges[key("jailpilot_live_since_seconds", [("app", app.name), ("sha", live.sha)])] =
                    since.timeIntervalSince1970.rounded()
                gauges[key("jailpilot_probation", [("app", app.name)])] = live.probationOf == nil ? 0 : 1
            }
            for (sha, count) in (try? store.reverts(app: app.name)) ?? [:] {
                gauges[key("jailpilot_reverts", [("app", app.name), ("sha", sha)])] = Double(count)
            }
            for item in (try? store.quarantined(app: app.name, limit: Self.quarantinedPerApp)) ?? [] {
                gauges[
                    key("jailpilot_quarantined_info", [("app", app.name), ("sha", item.sha), ("reason", Self.kind(item.reason))])] =
                    item.at.timeIntervalSince1970.rounded()
            }
            if let hold = try? store.holdSHA(app: app.name) {
                gauges[key("jailpilot_hold_info", [("app", app.name), ("sha", hold)])] =
                    ((try? store.holdSince(app: app.name)) ?? nil)?.timeIntervalSince1970.rounded() ?? 0
            }
            if let pin = app.pin { gauges[key("jailpilot_pin_info", [("app", app.name), ("sha", pin)])] = 1 }
            if let head = try? store.head(app: app.name), head.branch == app.branch {
                gauges[key("jailpilot_head_info", [("app", app.name), ("sha", head.sha)] + ring)] = 1
            }
        }
    }

    /// A quarantine's reason as a label: the refusal's reason ("not promoted", "unsigned"), or
    /// the failing step ("probation", "health", "build").
    static func kind(_ reason: String) -> String {
        if reason.hasPrefix("refused ("), let close = reason.firstIndex(of: ")") {
            return String(reason[reason.index(reason.startIndex, offsetBy: 9)..<close])
        }
        let step = reason.prefix { $0 != ":" && $0 != " " }
        return step.isEmpty || step.count > 32 || step.count == reason.count ? "failed" : String(step)
    }
}
