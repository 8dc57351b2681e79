import Synchronization

/// Work that did not finish within its time limit.
public struct DeadlineExceeded: Error, Sendable, CustomStringConvertible {
    public var what: String
    public var limit: Duration
    public var description: String { "\(what) did not answer within \(DurationText.format(limit))" }
}

/// Returns `body`'s result, or throws `DeadlineExceeded` after `limit` without waiting further.
///
/// For calls that cannot be cancelled (libgit2 1.5 has no network timeouts): the call keeps its
/// pool thread until the connection dies, but the caller moves on.
public func withDeadline<T: Sendable>(
    _ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let once = ResumeOnce<T>()
    return try await withCheckedThrowingContinuation { continuation in
        once.set(continuation)
        // A sleeping task as the timer: cancelling it frees it at once (a cancelled Dispatch
        // timer stays queued until its deadline, which kept 30 s of polls' timers in memory).
        let timer = Task {
            try await Task.sleep(for: limit)
            once.resume(.failure(DeadlineExceeded(what: what, limit: limit)))
        }
        Task {
            once.resume(await Result { try await body() })
            timer.cancel()
        }
    }
}

/// Resumes a continuation exactly once, whichever side finishes first.
private final class ResumeOnce<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, Error>?
        var early: Result<T, Error>?
    }
    private let state = Mutex(State())

    func set(_ continuation: CheckedContinuation<T, Error>) {
        let early = state.withLock { state -> Result<T, Error>? in
            if state.early == nil { state.continuation = continuation }
            return state.early
        }
        if let early { continuation.resume(with: early) }
    }

    func resume(_ result: Result<T, Error>) {
        let waiting = state.withLock { state -> CheckedContinuation<T, Error>? in
            defer { state.continuation = nil }
            if state.continuation == nil && state.early == nil { state.early = result }
            return state.continuation
        }
        waiting?.resume(with: result)
    }
}

extension Result where Failure == Error {
    /// Captures an async throwing call's outcome.
    public init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
