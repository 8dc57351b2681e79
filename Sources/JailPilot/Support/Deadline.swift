import Foundation

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
        // A cancellable Dispatch timer rather than a sleeping task per call.
        let timer = DispatchWorkItem { once.resume(.failure(DeadlineExceeded(what: what, limit: limit))) }
        let nanoseconds = Int(limit.seconds * 1e9)
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds), execute: timer)
        Task {
            once.resume(await Result { try await body() })
            timer.cancel()
        }
    }
}

/// Resumes a continuation exactly once, whichever side finishes first.
private final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, Error>?
    private var early: Result<T, Error>?

    func set(_ continuation: CheckedContinuation<T, Error>) {
        lock.lock()
        if let early {
            lock.unlock()
            continuation.resume(with: early)
            return
        }
        self.continuation = continuation
        lock.unlock()
    }

    func resume(_ result: Result<T, Error>) {
        lock.lock()
        guard let continuation else {
            if early == nil { early = result }
            lock.unlock()
            return
        }
        self.continuation = nil
        lock.unlock()
        continuation.resume(with: result)
    }
}

extension Result where Failure == Error {
    /// Captures an async throwing call's outcome.
    public init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
