import Synchronization

/// A mutual-exclusion lock for a class that guards several fields (Foundation's `NSLock` without
/// Foundation: the agent links only FoundationEssentials, to keep its resident memory small).
package final class Lock: Sendable {
    private let mutex = Mutex(())

    package init() {}

    /// Runs `body` holding the lock.
    package func withLock<T>(_ body: () throws -> T) rethrows -> T {
        try mutex.withLock { _ in try body() }
    }
}
