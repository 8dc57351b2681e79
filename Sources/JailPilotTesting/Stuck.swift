import JailPilot
import Synchronization

/// Calls that never return and ignore cancellation, as a host call stuck in the kernel never
/// does (or a process killed with SIGKILL never does anything again). `reached` says each time
/// one begins, with what it was given.
public final class Stuck: Sendable {
    /// What each stuck call was given, as it begins.
    public let reached: AsyncStream<String>
    private let said: AsyncStream<String>.Continuation
    /// Held, never resumed: a stuck call's task waits on its own for good.
    private let held = Mutex<[CheckedContinuation<Void, Never>]>([])

    public init() { (reached, said) = AsyncStream.makeStream() }

    /// Says `what` was reached, then never returns, whether cancelled or not.
    public func hang(_ what: String) async {
        said.yield(what)
        await withCheckedContinuation { continuation in held.withLock { $0.append(continuation) } }
    }

    /// The first call to begin, or nil when none began within `limit` (a test's failure guard).
    public func first(within limit: Duration) async -> String? {
        let reached = self.reached
        return await withTimeout(limit) { await reached.first { _ in true } } ?? nil
    }
}
