import Foundation

/// Runs blocking work (libgit2, sockets, file trees) on a thread of a small reusable pool, off
/// Swift's cooperative pool, and returns its result to the awaiting task.
///
/// libgit2 keeps its last error per thread, so a libgit2 call and the read of its error must
/// happen inside one `blocking` closure.
public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        BlockingPool.shared.submit {
            let result = Result { try body() }
            return { continuation.resume(with: result) }
        }
    }
}

/// Threads for blocking work: an idle one is reused, a new one is started only when all are
/// busy (so a slow fetch never delays a health check), and idle threads exit after 30 s.
///
/// Reusing threads keeps the agent's memory flat: every new thread can get its own malloc
/// arena, and a thread per call made the idle RSS grow with the number of apps.
final class BlockingPool: @unchecked Sendable {
    static let shared = BlockingPool()
    private let condition = NSCondition()
    /// Each job does its blocking work and returns how to deliver the result; the pool delivers
    /// it only after marking the thread free, so the caller's next call finds it available.
    private var jobs: [@Sendable () -> @Sendable () -> Void] = []
    /// Threads alive, and how many of them are running a job right now.
    private var threads = 0
    private var running = 0

    func submit(_ job: @escaping @Sendable () -> @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        // A thread that has just finished a job counts as available even before it waits again,
        // so a steady stream of calls reuses one thread instead of starting new ones.
        if jobs.count > threads - running {
            threads += 1
            Thread.detachNewThread { [self] in work() }
        } else {
            condition.signal()
        }
        condition.unlock()
    }

    private func work() {
        condition.lock()
        while true {
            while jobs.isEmpty {
                if !condition.wait(until: Date(timeIntervalSinceNow: 30)) && jobs.isEmpty {
                    threads -= 1
                    condition.unlock()
                    return
                }
            }
            let job = jobs.removeFirst()
            running += 1
            condition.unlock()
            let deliver = job()
            condition.lock()
            running -= 1
            condition.unlock()
            deliver()
            condition.lock()
        }
    }
}
