import JailPilotCore

/// One prerequisite of this host, checked now: what `jailpilot doctor` prints as ✓ or ✗.
public struct HostCheck: Sendable, Codable, Equatable {
    /// Short name: "pf loaded", "resource accounting".
    public var name: String
    public var ok: Bool
    /// What was found.
    public var detail: String
    /// The exact commands that mend it; nil when it passes.
    public var fix: String?
    /// What goes unenforced while it fails, deploys going on ("limits", "network policy"); nil
    /// for a prerequisite without which deploys fail.
    public var degrades: String?

    public init(_ name: String, ok: Bool, _ detail: String, fix: String? = nil, degrades: String? = nil) {
        self.name = name
        self.ok = ok
        self.detail = detail
        self.fix = ok ? nil : fix
        self.degrades = degrades
    }

    /// `✓ name: detail`, or `✗ name: detail` with the fix indented below.
    public var text: String {
        var line = "\(ok ? "✓" : "✗") \(name): \(detail)"
        if !ok, let degrades { line += " (\(degrades) not enforced; deploys go on)" }
        if let fix { line += "\n    fix: " + fix.replacing("\n", with: "\n         ") }
        return line
    }

    /// "limits not enforced: reboot with kern.racct.enable=1", for status and the agent log.
    public var gap: String? {
        guard !ok, let degrades else { return nil }
        return "\(degrades) not enforced: \(detail)"
    }
}

extension JailHost {
    /// The failing checks that leave something unenforced while deploys go on.
    public func enforcementGaps() async -> [HostCheck] {
        await enforcementChecks().filter { !$0.ok }
    }
}
