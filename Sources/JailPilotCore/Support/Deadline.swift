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
    try await firstOf([
        body,
        {
            // A sleeping task as the timer: cancelling it frees it at once (a cancelled Dispatch
            // timer stays queued until its deadline, which kept 30 s of polls' timers in memory).
            try await Task.sleep(for: limit)
            throw DeadlineExceeded(what: what, limit: limit)
        },
    ])
}

/// `work`'s result, or nil when `limit` passes first (or the caller is cancelled): the work is
/// then cancelled and left running, unawaited, however long it ignores that.
public func withTimeout<T: Sendable>(_ limit: Duration, _ work: @escaping @Sendable () async -> T) async -> T? {
    do {
        return try await firstOf([
            { Optional(await work()) },
            {
                try await Task.sleep(for: limit)
                return nil
            },
        ])
    } catch {
        return nil  // only the timer throws, and only when the caller is cancelled
    }
}

/// The outcome of whichever of `racers` ends first, its value or its error, without waiting for
/// the others: they are cancelled, and one that ignores cancellation runs on, unawaited.
/// Cancelling the caller cancels every racer (it returns when the first of them ends). With no
/// racers there is nothing to wait for: CancellationError.
public func firstOf<T: Sendable>(_ racers: [@Sendable () async throws -> T]) async throws -> T {
    guard !racers.isEmpty else { throw CancellationError() }
    let once = ResumeOnce<T>()
    let started = Racers()
    defer { started.cancelAll() }
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            once.set(continuation)
            started.add(racers.map { racer in Task { once.resume(await Result { try await racer() }) } })
        }
    } onCancel: {
        started.cancelAll()
    }
}

/// The tasks of one `firstOf`; cancelling them before they are added cancels them as they come.
private final class Racers: Sendable {
    private let state = Mutex<(tasks: [Task<Void, Never>], cancelled: Bool)>(([], false))

    func add(_ tasks: [Task<Void, Never>]) {
        let cancelled = state.withLock { state in
            state.tasks += tasks
            return state.cancelled
        }
        if cancelled { tasks.forEach { $0.cancel() } }
    }

    func cancelAll() {
        let tasks = state.withLock { state in
            state.cancelled = true
            return state.tasks
        }
        tasks.forEach { $0.cancel() }
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
