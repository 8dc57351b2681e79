import Foundation

/// Runs blocking work (libgit2, SQLite, file trees) on a thread of its own, off Swift's
/// cooperative pool, and returns its result to the awaiting task.
///
/// libgit2 keeps its last error per thread, so a libgit2 call and the read of its error must
/// happen inside one `blocking` closure.
public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try body() })
        }
    }
}
