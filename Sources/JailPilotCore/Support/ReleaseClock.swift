import FoundationEssentials

/// The release engine's time: what it measures phases with, waits on and compares the store's
/// timestamps to. The host's clock in production; tests inject one that moves only when waited on.
public protocol ReleaseClock: Sendable {
    /// A monotonic instant.
    var now: ContinuousClock.Instant { get }
    /// Wall time, as the store records `updated`.
    var date: Date { get }
    /// Waits `duration` (throws when the task is cancelled).
    func sleep(for duration: Duration) async throws
}

/// The host's clocks.
public struct SystemClock: ReleaseClock {
    public init() {}
    public var now: ContinuousClock.Instant { .now }
    public var date: Date { Date() }
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}
