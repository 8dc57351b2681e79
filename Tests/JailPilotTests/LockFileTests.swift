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

/// The per-app lock of deploys and rollbacks.
@Suite struct AppLockTests {
    // Regression: a deploy right after another one in the same process was refused as "another
    // deploy of hello is running (pid <its own>)" about once a full run (StateMachineTests, on
    // 2 cores): a command spawned meanwhile held a copy of the released lock's descriptor until
    // it exec'd. A lock held that briefly is now waited for; here another process holds it for
    // 300 ms (util-linux flock(1)), which a lock without patience reports as busy.
    @Test(.enabled(if: have("flock"), "needs flock(1)"))
    func aLockHeldForAMomentIsWaitedForAndOneHeldLongerIsBusy() async throws {
        let scratch = try Scratch("applock")
        let path = "\(scratch.path)/locks/hello.lock"
        try FileIO.makeDirectories("\(scratch.path)/locks")
        func holdFor(_ seconds: String) async throws -> Task<ProcessResult, Error> {
            let holder = Task { try await HostProcessRunner().run(Command("flock", ["-x", path, "sleep", seconds])) }
            // Until flock(1) has it: an event, however long a loaded host takes to start it (the
            // suite run as nobody under load failed when this gave up after 2.5 s).
            for _ in 0..<12_000 {
                if case .failure = try LockFile.acquire(path) { return holder }
                try await Task.sleep(for: .milliseconds(5))
            }
            Issue.record("flock(1) never took the lock")
            return holder
        }

        var holder = try await holdFor("0.3")
        await #expect(throws: DeployError.self) {
            _ = try await AppLock.acquire(stateDir: scratch.path, app: "hello", patience: .zero)
        }
        // A generous patience: a loaded host may keep flock(1) past the default second.
        let lock = try await AppLock.acquire(stateDir: scratch.path, app: "hello", patience: .seconds(20))
        withExtendedLifetime(lock) {}
        _ = try await holder.value

        holder = try await holdFor("30")  // ended by the cancel below, not by the clock
        let error = await #expect(throws: DeployError.self) {
            _ = try await AppLock.acquire(stateDir: scratch.path, app: "hello")
        }
        #expect("\(error.map { "\($0)" } ?? "")".contains("another deploy or rollback of hello is running"))
        holder.cancel()
        _ = try? await holder.value
    }
}
