import FoundationEssentials

/// One line of `jailpilot history`: a release, or a commit the gate refused (never a release).
public struct HistoryRow: Sendable, Codable, Equatable {
    public var sha: String
    /// The release's state, or "refused".
    public var state: String
    public var address: String?
    public var created: String
    public var phases: [String: Double]
    public var failedStep: String?
    public var reason: String?
    /// The phases in the order they ran (the JSON's `phases` is an object).
    var order: [String] = []

    enum CodingKeys: String, CodingKey { case sha, state, address, created, phases, failedStep, reason }

    /// `app`'s releases and refusals, newest first.
    public static func rows(app: String, store: StateStore) throws -> [HistoryRow] {
        let releases = try store.releases(app: app).map { release in
            (
                release.created,
                HistoryRow(
                    sha: release.sha, state: release.state.rawValue, address: release.address,
                    created: EventLog.timestamp(release.created), phases: Dictionary(release.phases, uniquingKeysWith: { $1 }),
                    failedStep: release.step, reason: release.reason, order: release.phases.map(\.0))
            )
        }
        let refusals = try store.refusals(app: app).map { refusal in
            (
                refusal.at,
                HistoryRow(
                    sha: refusal.sha, state: "refused", address: nil, created: EventLog.timestamp(refusal.at), phases: [:],
                    failedStep: nil, reason: refusal.reason)
            )
        }
        // Stable: the store lists releases newest first, and a refusal at the same instant comes first.
        return (refusals + releases).enumerated().sorted { ($0.element.0, -$0.offset) > ($1.element.0, -$1.offset) }
            .map(\.element.1)
    }

    /// The line `history` prints.
    public var text: String {
        let phases = order.compactMap { name in self.phases[name].map { "\(name)=\(String.fixed($0, digits: 2))s" } }
            .joined(separator: " ")
        var line = "\(created)  \(sha.prefix(12))  \(state + String(repeating: " ", count: max(0, 9 - state.count))) \(phases)"
        if let step = failedStep { line += "  failed at \(step): \(reason ?? "")" }
        if state == "refused", let reason { line += reason }
        return line
    }
}
