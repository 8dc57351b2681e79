/// The one table of the moves a release may make; the store refuses any other
/// (`ReleaseTransitionError`). docs/DESIGN.md, "Release states", draws it.
extension ReleaseState {
    /// The states a release in this state may move to, besides staying where it is (an update
    /// of its step or phases), failing (anything not destroyed may fail) and being destroyed
    /// (a destroyed release never comes back).
    public var next: Set<ReleaseState> {
        switch self {
        case .built: return [.provisioned]
        case .provisioned: return [.starting]
        // A kept release brought back by a rollback goes live from `starting` after its health
        // gate, or back to `retired` when it does not come up.
        case .starting: return [.healthy, .live, .retired]
        case .healthy: return [.live]
        case .live: return [.standby, .retired]
        case .standby: return [.live, .starting, .retired]
        case .retired: return [.starting, .standby, .live]
        case .destroyed, .failed: return []
        }
    }

    /// Whether a release in this state may move to `state`.
    public func canMove(to state: ReleaseState) -> Bool {
        if self == .destroyed { return state == .destroyed }
        return state == self || state == .failed || state == .destroyed || next.contains(state)
    }

    /// The only state a release row is created in: its commit is built.
    public static let first = ReleaseState.built
}

/// A condition a release holds within one state, taken on and given up only as this table
/// says: the store refuses the rest (`ReleaseTransitionError`), and a move out of the state
/// ends it.
public enum ReleaseCondition: String, Sendable, CaseIterable {
    /// Live and still watched: the release it replaced keeps running to flip back to.
    case onProbation = "on probation"
    /// Standing by with open connections: stopped once they close or drain_timeout passes.
    case draining
    /// Its release step ran (or started): a flip-back could undo what it did to the data.
    case releaseStepRan = "release step ran"
    /// Live, but out of the route and stopped while a stop-first deploy swaps it for a new
    /// release: the new one replaces it (the flip), or it is started again.
    case swappedOut = "swapped out"

    /// The state a release must be in to take this condition on.
    public var state: ReleaseState {
        switch self {
        case .onProbation: return .live
        case .draining: return .standby
        case .releaseStepRan: return .starting
        case .swappedOut: return .live
        }
    }

    /// Whether the condition outlives a move out of `state` (a release step's effect on the data
    /// stays whatever happens to the release; probation and draining end with their state).
    public var sticks: Bool { self == .releaseStepRan }
}

/// A state change the transition table does not allow; nothing was written.
public struct ReleaseTransitionError: Error, Sendable, CustomStringConvertible {
    public var release: String
    public var from: ReleaseState
    /// The state asked for, or the condition asked for (`to` is then the state it needs).
    public var to: ReleaseState
    public var condition: ReleaseCondition? = nil

    public var description: String {
        if let condition {
            return
                "release \(release) cannot be \(condition.rawValue) while \(from.rawValue) (only while \(condition.state.rawValue)); the store was left as it was. This is a jailpilot bug: please report it with `jailpilot history`"
        }
        return
            "release \(release) cannot go from \(from.rawValue) to \(to.rawValue) (allowed: \(from.next.map(\.rawValue).sorted().joined(separator: ", ")), failed, destroyed); the store was left as it was. This is a jailpilot bug: please report it with `jailpilot history`"
    }
}

/// A release row the store was asked to change is not there (deleted, or another state_dir's).
public struct ReleaseMissingError: Error, Sendable, CustomStringConvertible {
    public var id: Int64
    public var wanted: String

    public var description: String {
        "release id \(id) is not in the state store (asked: \(wanted)); nothing was written. Run `jailpilot status` to see the releases it holds"
    }
}

/// A release row whose stored state this version does not know (a newer jailpilot wrote it,
/// or the file was edited): refused rather than read as something else.
public struct UnknownReleaseStateError: Error, Sendable, CustomStringConvertible {
    public var id: Int64
    public var name: String
    public var state: String

    public var description: String {
        "release \(name) (id \(id)) has state '\(state)' in state.db, which this jailpilot does not know (a newer version wrote it?); run the jailpilot that wrote it, or restore state.db from a backup"
    }
}
