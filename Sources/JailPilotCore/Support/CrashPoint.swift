/// What reaching a step of a deploy does, injected with the runtime: nothing in the shipped agent
/// and CLI (which read no environment variable for it). Crash tests inject their own: the
/// crash-test driver (jailpilot-crashtest) dies there with SIGKILL, a memory-host test suspends
/// the deploy there for good. Steps: fetch, build, clone, install, start, health, flip,
/// probation, retire, destroy.
public protocol CrashPoints: Sendable {
    /// Called as work reaches `step`; returns when the work may go on (never, for a crash).
    func reach(_ step: String) async
}

/// The shipped crash points: reaching one does nothing.
public struct NoCrashPoints: CrashPoints {
    public init() {}

    public func reach(_ step: String) async {}
}
