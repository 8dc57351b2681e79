import FoundationEssentials

/// Where a release is in its life. See docs/DESIGN.md for the transitions.
public enum ReleaseState: String, Sendable, CaseIterable {
    case building, built, provisioned, starting, healthy
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
    public var hasJail: Bool { ![.building, .built, .destroyed, .failed].contains(self) }
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

    /// The jail, dataset and config name: `<app>_<sha12>`.
    public var name: String { Release.name(app: app, sha: sha) }

    public static func name(app: String, sha: String) -> String { "\(app)_\(sha.prefix(12))" }

    /// Whether `text` has the form of a release name, `<app>_<sha12>`.
    public static func looksLikeName(_ text: String) -> Bool {
        guard let cut = text.lastIndex(of: "_") else { return false }
        return Names.appNameProblem(String(text[..<cut])) == nil
            && Names.isLowerHex(text[text.index(after: cut)...], count: 12)
    }

    public static func == (a: Release, b: Release) -> Bool {
        a.id == b.id && a.state == b.state && a.address == b.address && a.updated == b.updated && a.probationOf == b.probationOf
    }
}
