import Synchronization

/// A mutual-exclusion lock for a class that guards several fields (Foundation's `NSLock` without
/// Foundation: the agent links only FoundationEssentials, to keep its resident memory small).
final class Lock: Sendable {
    private let mutex = Mutex(())

    /// Runs `body` holding the lock.
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        try mutex.withLock { _ in try body() }
    }
}
