import FoundationEssentials

/// One action on one app as a value: the steps the deployer runs, in order, and what a failure
/// undoes. `jailpilot plan` prints it (ReleasePlan.render); the deployer runs the same value
/// (Deployer.run) and nothing else. Built from the store and the host as they are now
/// (Deployer+Scripts), so kept, live and standby releases are branches of the script, not of
/// the code that runs it.
public struct ReleaseScript: Sendable {
    /// What the script does, as `plan` names it.
    public enum Kind: String, Sendable {
        /// A new release: provision, start, gates, flip, probation, retire, retention.
        case deploy
        /// A kept release made live again (started and gated first when stopped).
        case activate
        /// The wanted release is live already: nothing runs.
        case unchanged
        /// Standby releases stopped once drained, then retention.
        case retire
        /// One release's jail removed.
        case destroy
        /// Every release of the app removed.
        case remove
        /// Every running release stopped, the data put back, a kept release made live.
        case dataRollback
    }

    /// What a failure of a step before the flip does.
    public enum Undo: Sendable {
        /// Nothing to undo.
        case none
        /// The new release is destroyed (its log kept) and recorded failed.
        case abandon(JailSpec)
        /// The kept release is stopped again and recorded retired.
        case backToKept(JailSpec)
        /// The release that was live is started again (on the restored data).
        case restartLive(JailSpec)
        /// Stop-first: the new release abandoned, then the swapped-out live one started again
        /// and put back in the route.
        case abandonAndRestore(JailSpec, live: JailSpec)
    }

    public var kind: Kind
    public var app: AppConfig
    public var steps: [ScriptStep]
    /// Where retention begins: it is worked out again from the store when the run reaches it
    /// (the plan shows it as the store will be then).
    public var retentionFrom: Int?
    public var undo: Undo
    /// Why the release is made or moved (push, pin, manual, rollback…), for the timeline.
    public var cause: String
    /// The commit mark generation a new release raises the app's mark to once live (0: none).
    public var mark: Int = 0
    /// The release an `unchanged` script is about (live already), which no step names.
    public var unchangedLive: JailSpec?

    public init(
        kind: Kind, app: AppConfig, steps: [ScriptStep], retentionFrom: Int? = nil, undo: Undo = .none, cause: String = "manual"
    ) {
        self.kind = kind
        self.app = app
        self.steps = steps
        self.retentionFrom = retentionFrom
        self.undo = undo
        self.cause = cause
    }

    /// The release the script makes live, if it does.
    public var target: JailSpec? {
        for step in steps { if case .flip(let to, _, _) = step { return to } }
        if case .restartLive(let spec) = undo { return spec }
        if case .abandonAndRestore(let spec, _) = undo { return spec }
        return nil
    }

    /// The steps before retention, and retention's.
    var main: ArraySlice<ScriptStep> { steps[..<(retentionFrom ?? steps.count)] }
}
