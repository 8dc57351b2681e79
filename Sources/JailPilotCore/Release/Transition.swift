import FoundationEssentials

/// One entry of an app's timeline (`jailpilot history`): what moved, from which commit to
/// which, why, who asked, how long each phase took and how it ended. Kept apart from releases,
/// so rollbacks, flip-backs and the retention of releases never rewrite it.
public struct Transition: Sendable, Equatable, Codable {
    public var time: Date
    public var app: String
    /// The live commit before; nil when nothing was live.
    public var from: String?
    /// The commit it was about.
    public var to: String
    /// push, pin, hold, manual, rollback, resume, flip-back, config changed, key change.
    public var cause: String
    /// Who or what asked: `agent`, `webhook`, `trigger`, `cli:<user>`.
    public var actor: String
    /// live, failed, reverted, held, refused, unverified, verified.
    public var outcome: String
    /// Phase durations in seconds, in the order they ran.
    public var phases: [Phase] = []
    /// Why it failed or was refused; "" when it went live.
    public var detail: String = ""

    /// One phase and its duration in seconds.
    public struct Phase: Sendable, Equatable, Codable {
        public var name: String
        public var seconds: Double
    }

    public init(
        time: Date, app: String, from: String?, to: String, cause: String, actor: String, outcome: String,
        phases: [(String, Double)] = [], detail: String = ""
    ) {
        self.time = time
        self.app = app
        self.from = from
        self.to = to
        self.cause = cause
        self.actor = actor
        self.outcome = outcome
        self.phases = phases.map { Phase(name: $0.0, seconds: $0.1) }
        self.detail = detail
    }

    /// The one line `history` prints: time, from → to, outcome, cause, who; `verbose` adds the phases.
    public func line(verbose: Bool = false) -> String {
        let move = from.map { $0 == to ? String(to.prefix(12)) : "\($0.prefix(12)) → \(to.prefix(12))" } ?? "- → \(to.prefix(12))"
        var line = "\(EventLog.timestamp(time))  \(move)  \(outcome)  \(cause) by \(actor)"
        if !detail.isEmpty { line += ": \(detail)" }
        if verbose, !phases.isEmpty {
            line +=
                "\n    " + phases.map { "\($0.name)=\(String.fixed($0.seconds, digits: 2))s" }.joined(separator: " ")
                + "  total=\(String.fixed(phases.reduce(0) { $0 + $1.seconds }, digits: 2))s"
        }
        return line
    }
}
