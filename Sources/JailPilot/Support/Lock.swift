import CSpawn
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

/// Runs `body` on a new detached thread (`Thread.detachNewThread` without Foundation); false,
/// with `body` not run, when the system has no thread to give.
func detachThread(_ body: @escaping @Sendable () -> Void) -> Bool {
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    let rc = jp_thread_detach(
        { raw in
            guard let raw else { return nil }
            Unmanaged<ThreadBody>.fromOpaque(raw).takeRetainedValue().body()
            return nil
        }, box)
    if rc != 0 { Unmanaged<ThreadBody>.fromOpaque(box).release() }
    return rc == 0
}

private final class ThreadBody {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}
