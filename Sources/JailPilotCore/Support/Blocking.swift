import Dispatch
import Synchronization

/// Runs blocking work (libgit2, sockets, file trees) on a thread of a small reusable pool, off
/// Swift's cooperative pool, and returns its result to the awaiting task.
///
/// libgit2 keeps its last error per thread, so a libgit2 call and the read of its error must
/// happen inside one `blocking` closure.
public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await BlockingPool.shared.run(body)
}

/// Threads for blocking work: an idle one is reused, a new one is started only when all are
/// busy (so a slow fetch never delays a health check), and a thread idle for 30 s exits.
///
/// Idle threads are woken last-in first-out, so a burst's extra threads really do sit idle and
/// exit; a shared wake-up let every thread take turns and kept all of a burst alive for good (with
/// 21 apps that was 21 threads, each with stack and malloc arena). Reusing threads matters for
/// memory: every new thread can get its own malloc arena.
package final class BlockingPool: Sendable {
    package static let shared = BlockingPool()
    /// Each job does its blocking work and returns how to deliver the result; the pool delivers
    /// it only after marking the thread idle, so the caller's next call finds it available.
    private typealias Job = @Sendable () -> @Sendable () -> Void
    private struct State {
        var jobs: [Job] = []
        /// Idle threads' wake-up signals, most recently idle last.
        var idle: [Worker] = []
    }
    private final class Worker: Sendable {
        let wakeup = DispatchSemaphore(value: 0)
    }
    private let state = Mutex(State())
    private let idleLimit: DispatchTimeInterval

    init(idleLimit: DispatchTimeInterval = .seconds(30)) { self.idleLimit = idleLimit }

    /// Runs `body` on a pool thread and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await perform { Result { try body() } }.get()
    }

    /// Runs `body`, which cannot fail, on a pool thread and returns its result.
    package func perform<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            submit {
                let result = body()
                return { continuation.resume(returning: result) }
            }
        }
    }

    private func submit(_ job: @escaping @Sendable () -> @Sendable () -> Void) {
        let worker = state.withLock { state -> Worker? in
            state.jobs.append(job)
            return state.idle.popLast()
        }
        if let worker {
            worker.wakeup.signal()
        } else if !detachThread({ [self] in work(Worker()) }) {
            // Out of threads (RLIMIT_NPROC, memory): do one job here rather than lose it.
            if let next = nextJob() { next()() }
        }
    }

    /// Threads alive and waiting for work (for tests and benchmarks).
    var idleThreads: Int { state.withLock { $0.idle.count } }

    private func work(_ worker: Worker) {
        while let job = nextJob() {
            let deliver = job()
            state.withLock { $0.idle.append(worker) }
            deliver()
            guard waitForJob(worker) else { return }
        }
    }

    private func nextJob() -> Job? { state.withLock { $0.jobs.isEmpty ? nil : $0.jobs.removeFirst() } }

    /// Waits to be handed a job; false when none came within the idle limit (the thread exits).
    private func waitForJob(_ worker: Worker) -> Bool {
        if worker.wakeup.wait(timeout: .now() + idleLimit) == .success { return true }
        // `submit` takes a worker off the idle list before signalling it: if this one is still
        // listed, nobody will, so it leaves; if not, a wake-up is on its way.
        let leave = state.withLock { state -> Bool in
            guard let index = state.idle.firstIndex(where: { $0 === worker }) else { return false }
            state.idle.remove(at: index)
            return true
        }
        if leave { return false }
        worker.wakeup.wait()
        return true
    }
}
