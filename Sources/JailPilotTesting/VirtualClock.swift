import FoundationEssentials
import JailPilot
import Synchronization

/// A clock that moves only when something waits on it: every `sleep` advances it by its
/// duration at once, so a 30 s probation or a 5 min drain timeout takes microseconds.
public final class VirtualClock: ReleaseClock, Sendable {
    private let start = ContinuousClock.now
    private let startDate = Date()
    private let elapsed = Mutex<Duration>(.zero)

    public init() {}

    public var now: ContinuousClock.Instant { start + elapsed.withLock { $0 } }
    public var date: Date { startDate.addingTimeInterval(elapsed.withLock { $0 }.seconds) }

    /// Moves the clock on without anyone waiting (time passes between two agent ticks).
    public func advance(_ duration: Duration) { elapsed.withLock { $0 += duration } }

    public func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        elapsed.withLock { $0 += duration }
        // Lets other tasks run, as a real wait would.
        await Task.yield()
        try Task.checkCancellation()
    }
}
