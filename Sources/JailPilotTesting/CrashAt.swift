import JailPilot

/// Crash points for the memory host that model `kill -9` at one step: the deploy that reaches it
/// is suspended for good (cancellation included), so nothing after it runs, no cleanup either.
/// Recovery is then run on the same world (another agent on it). Unlike a killed process, the
/// suspended deploy keeps what it holds: the app's lock (a later deploy of the app finds it
/// busy) and, at `flip`, the route table's lock, which a recovery waits on for good.
public struct CrashAt: CrashPoints {
    /// The step the deploy dies at.
    public let step: String
    private let stuck = Stuck()

    public init(_ step: String) { self.step = step }

    public func reach(_ step: String) async {
        guard step == self.step else { return }
        await stuck.hang(step)
    }

    /// Whether a deploy reached the step within `limit` (a test's failure guard).
    public func reached(within limit: Duration) async -> Bool { await stuck.first(within: limit) != nil }
}
