/// The one table of the moves a release may make; the store refuses any other
/// (`ReleaseTransitionError`). docs/DESIGN.md, "Release states", draws it.
extension ReleaseState {
    /// The states a release in this state may move to, besides staying where it is (an update
    /// of its step or phases), failing (anything not destroyed may fail) and being destroyed
    /// (a destroyed release never comes back).
    public var next: Set<ReleaseState> {
        switch self {
        case .building: return [.built]
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
}

/// A state change the transition table does not allow; nothing was written.
public struct ReleaseTransitionError: Error, Sendable, CustomStringConvertible {
    public var release: String
    public var from: ReleaseState
    public var to: ReleaseState

    public var description: String {
        "release \(release) cannot go from \(from.rawValue) to \(to.rawValue) (allowed: \(from.next.map(\.rawValue).sorted().joined(separator: ", ")), failed, destroyed); the store was left as it was. This is a jailpilot bug: please report it with `jailpilot history`"
    }
}
