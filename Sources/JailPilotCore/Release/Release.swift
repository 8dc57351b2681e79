import FoundationEssentials

/// Where a release is in its life. See docs/DESIGN.md for the transitions.
public enum ReleaseState: String, Sendable, CaseIterable {
    case built, provisioned, starting, healthy
    /// Routed: Caddy sends this app's traffic here.
    case live
    /// Running but not routed: the previous release during probation, or after a rollback.
    case standby
    /// Stopped; its filesystem is kept for rollback.
    case retired
    /// Jail, filesystem, network and config removed.
    case destroyed
    /// Did not become live (or was reverted in probation); nothing of it remains but its logs.
    case failed

    /// States whose jail may still exist on the host.
    public var hasJail: Bool { ![.built, .destroyed, .failed].contains(self) }
}

/// One release of an app at one commit: the jail `<app>_<sha12>` and its history.
public struct Release: Sendable, Equatable {
    public var id: Int64
    public var app: String
    public var sha: String
    public var state: ReleaseState
    public var address: String?
    /// The step that failed, for `failed` releases.
    public var step: String?
    public var reason: String?
    public var created: Date
    public var updated: Date
    /// Phase durations in seconds, in order: build, provision, start, health, flip, ...
    public var phases: [(String, Double)]
    /// While this live release is on probation: the release it replaced, kept running to flip back to.
    public var probationOf: Int64? = nil
    /// The digest of the environment it runs with (AppEnvironment.digest); "" for none.
    public var env: String = ""
    /// Why it was made: "push" (the branch moved), "pin", "config changed", "manual" (a CLI deploy).
    public var cause: String = ""
    /// Whether its release step has run (or started): a flip-back could then undo a migration.
    public var releaseStepRan: Bool = false
    /// The generation of the app's commit mark this release raises it to once live past
    /// probation; 0 when it does not (a rollback, or a pin back).
    public var mark: Int = 0
    /// The port it listens on (the app's `port` when it was made); nil for a release made before
    /// releases carried one (it listens on the app's port).
    public var port: Int? = nil

    /// Whether it stands by with open connections, stopped once they close (ReleaseCondition.draining).
    public var isDraining: Bool { state == .standby && step == ReleaseCondition.draining.rawValue }

    /// Whether a stop-first deploy took it out of the route and stopped it (ReleaseCondition.swappedOut).
    public var isSwappedOut: Bool { state == .live && step == ReleaseCondition.swappedOut.rawValue }

    /// The conditions it holds within its state (ReleaseCondition), as the store recorded them.
    public var conditions: Set<ReleaseCondition> {
        var held: Set<ReleaseCondition> = []
        if state == .live, probationOf != nil { held.insert(.onProbation) }
        if isDraining { held.insert(.draining) }
        if isSwappedOut { held.insert(.swappedOut) }
        if releaseStepRan { held.insert(.releaseStepRan) }
        return held
    }

    package init(
        id: Int64, app: String, sha: String, state: ReleaseState, address: String?, step: String?, reason: String?,
        created: Date, updated: Date, phases: [(String, Double)], probationOf: Int64? = nil, env: String = "",
        cause: String = "", releaseStepRan: Bool = false, mark: Int = 0, port: Int? = nil
    ) {
        self.id = id
        self.app = app
        self.sha = sha
        self.state = state
        self.address = address
        self.step = step
        self.reason = reason
        self.created = created
        self.updated = updated
        self.phases = phases
        self.probationOf = probationOf
        self.env = env
        self.cause = cause
        self.releaseStepRan = releaseStepRan
        self.mark = mark
        self.port = port
    }

    /// The jail, dataset and config name (ReleaseName): `<app>_<sha12>`, or
    /// `<app>_<sha12>_<env8>` when the release has an environment, so the same commit with
    /// other variables is another release.
    public var name: String { ReleaseName(app: app, sha: sha, env: env).text }

    /// Whether it has served past its probation (live now without one, or live before and
    /// standing by or retired since): what its commit mark says happened.
    public var wasLivePastProbation: Bool {
        switch state {
        case .live: probationOf == nil
        case .standby, .retired: true
        default: false
        }
    }

    public static func == (a: Release, b: Release) -> Bool {
        a.id == b.id && a.state == b.state && a.address == b.address && a.updated == b.updated && a.probationOf == b.probationOf
            && a.env == b.env && a.releaseStepRan == b.releaseStepRan
    }
}
