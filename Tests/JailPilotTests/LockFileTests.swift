import Foundation
import Synchronization
import Testing

@testable import JailPilot

/// The locks the agent's tasks share (the boot list, the network policy) never park a thread
/// of Swift's cooperative pool while they wait.
@Suite struct LockFileTests {
    /// Regression: the async lock waited in a blocking flock(2). With as many waiters as the
    /// pool has threads (two on a 2-core host), the holder's await could never resume to release
    /// it, and the whole agent stopped. A watchdog thread, outside the pool, ends a hung run.
    @Test func waitersOfTheAsyncLockDoNotStarveItsHolder() async throws {
        let scratch = try Scratch("lock")
        let path = "\(scratch.path)/policy.lock"
        let done = StopSignal()
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: 30)
            if !done.isSet {
                fatalError("LockFile.withExclusive deadlocked: its waiters hold every thread of the cooperative pool")
            }
        }
        let order = Order()
        let holding = StopSignal()
        let holder = Task {
            try await LockFile.withExclusive(path) { @Sendable in
                holding.set()
                try await Task.sleep(for: .milliseconds(200))
                order.append("holder")
            }
        }
        while !holding.isSet { try await Task.sleep(for: .milliseconds(1)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<8 {
                group.addTask {
                    try await LockFile.withExclusive(path) { @Sendable () async in
                        await Task.yield()
                        order.append("waiter \(i)")
                    }
                }
            }
            try await group.waitForAll()
        }
        try await holder.value
        done.set()
        let seen = order.all
        #expect(seen.first == "holder", "the holder finished first: \(seen)")
        #expect(seen.count == 9)
    }
}

/// The order in which critical sections ran.
final class Order: Sendable {
    private let names = Mutex<[String]>([])
    func append(_ name: String) { names.withLock { $0.append(name) } }
    var all: [String] { names.withLock { $0 } }
}
