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
        let names = Set(apps.map(\.name))
        /// nil when `series` is about no app; else whether it is about one of `apps`. App names
        /// need no escaping in a label (Names.appNameProblem), so the value ends at the next quote.
        func aboutApps(_ series: String) -> Bool? {
            guard let start = series.firstIndex(of: "{"), series[start...].hasPrefix("{app=\"") else { return nil }
            let value = series[series.index(start, offsetBy: 6)...].prefix { $0 != "\"" }
            return names.contains(String(value))
        }
        // Emptied and refilled: a family that ends as it was keeps its rendered text.
        let previous = families
        for name in Array(families.keys) {
            if host != nil {
                // All of agent.conf's apps: every fleet series is made again, and an app gone from
                // agent.conf takes all its series with it (its failing polls would keep an alert firing).
                families[name]?.removeAll { Self.releaseFamilies.contains(name) || aboutApps($0) == false }
            } else if Self.releaseFamilies.contains(name) {
                families[name]?.removeAll { aboutApps($0) == true }
            }
        }
        if let host { set("jailpilot_host_info", [("host", host)], 1) }
        for app in apps {
            let ring = [("branch", app.branch), ("promoted_from", app.promotedFrom ?? "")]
            if let live = try? store.live(app: app.name) {
                set("jailpilot_live_info", [("app", app.name), ("sha", live.sha)] + ring, 1)
                let since = ((try? store.liveSince(app: app.name, sha: live.sha)) ?? nil) ?? live.updated
                set(
                    "jailpilot_live_since_seconds", [("app", app.name), ("sha", live.sha)], since.timeIntervalSince1970.rounded())
                set("jailpilot_probation", [("app", app.name)], live.probationOf == nil ? 0 : 1)
            }
            for (sha, count) in (try? store.reverts(app: app.name)) ?? [:] {
                set("jailpilot_reverts", [("app", app.name), ("sha", sha)], Double(count))
            }
            for item in (try? store.quarantined(app: app.name, limit: Self.quarantinedPerApp)) ?? [] {
                set(
                    "jailpilot_quarantined_info", [("app", app.name), ("sha", item.sha), ("reason", Self.kind(item.reason))],
                    item.at.timeIntervalSince1970.rounded())
            }
            if let hold = try? store.holdSHA(app: app.name) {
                set(
                    "jailpilot_hold_info", [("app", app.name), ("sha", hold)],
                    ((try? store.holdSince(app: app.name)) ?? nil)?.timeIntervalSince1970.rounded() ?? 0)
            }
            if let pin = app.pin { set("jailpilot_pin_info", [("app", app.name), ("sha", pin)], 1) }
            if let head = try? store.head(app: app.name), head.branch == app.branch {
                set("jailpilot_head_info", [("app", app.name), ("sha", head.sha)] + ring, 1)
            }
        }
        for (name, family) in families where family.text == nil {
            if let old = previous[name], old.text != nil, old.series == family.series { families[name]?.text = old.text }
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
