import Foundation
import JailPilotTesting
import Synchronization
import Testing

@testable import JailPilot
@testable import JailPilotCore

/// The small pieces that replaced Foundation APIs in the agent (which links only
/// FoundationEssentials to keep its memory small): they must behave like what they replaced.
@Suite struct SupportTests {
    @Test func blockingPoolShrinksBackAfterABurst() async throws {
        let pool = BlockingPool(idleLimit: .milliseconds(300))
        // A burst of 8 calls that each wait until all 8 have started: only a pool that gives each
        // its own thread lets them all see the others (none may wait behind another).
        let started = Counter()
        let calls = (0..<8).map { _ in
            Task {
                try await pool.run { () -> Bool in
                    started.increment()
                    for _ in 0..<500 where started.value < 8 { usleep(10_000) }
                    return started.value == 8
                }
            }
        }
        for call in calls { #expect(try await call.value, "a burst call waited behind another") }
        // No more threads than calls. (Not "exactly 8": on a loaded machine the idle ones may
        // already be leaving, 300 ms after the burst; the barrier above is what proves concurrency.)
        #expect(pool.idleThreads <= 8)
        // Then a steady trickle, like polls: one thread serves it and the rest leave.
        for _ in 0..<40 {
            _ = try await pool.run { 1 + 1 }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(pool.idleThreads <= 2)
        for _ in 0..<50 where pool.idleThreads > 0 { try await Task.sleep(for: .milliseconds(100)) }
        #expect(pool.idleThreads == 0)
        #expect(try await pool.run { "still works" } == "still works")
    }

    @Test func blockingPoolReturnsErrorsToTheCaller() async throws {
        struct Boom: Error {}
        await #expect(throws: Boom.self) { try await BlockingPool.shared.run { throw Boom() } }
    }

    /// A watcher's deploy runs in a child task (its frames freed with it): the deploy's result
    /// and errors reach the watcher as before, and stopping the watcher stops the deploy.
    @Test func aChildTaskReturnsAndThrowsAsTheBodyAndEndsWithItsCaller() async throws {
        struct Boom: Error {}
        #expect(try await inChildTask { 42 } == 42)
        await #expect(throws: Boom.self) { try await inChildTask { () async throws -> Int in throw Boom() } }
        let started = Mutex(false)
        let caller = Task {
            try await inChildTask {
                started.withLock { $0 = true }
                try await Task.sleep(for: .seconds(600))
                return "slept"
            }
        }
        while !started.withLock({ $0 }) { await Task.yield() }
        caller.cancel()
        await #expect(throws: CancellationError.self) { try await caller.value }
    }

    /// The first racer to end is the answer; the others are cancelled, not awaited: a racer that
    /// ignores cancellation does not hold the caller (the agent's bounded shutdown rests on it).
    @Test func firstOfAnswersWithTheFirstToEndAndCancelsTheRest() async throws {
        let (cancelled, sawCancel) = AsyncStream.makeStream(of: Bool.self)
        let winner = try await firstOf([
            { @Sendable in "quick" },
            { @Sendable in
                do { try await Task.sleep(for: .seconds(3600)) } catch { sawCancel.yield(error is CancellationError) }
                return "slow"
            },
        ])
        #expect(winner == "quick")
        #expect(await cancelled.first { _ in true } == true, "the loser was not cancelled")

        let stuck = Stuck()
        let given = await withTimeout(.milliseconds(50)) {
            await stuck.hang("ignores cancellation")
            return 1
        }
        #expect(given == nil)
        #expect(await withTimeout(.seconds(1)) { 2 } == 2)
        struct Boom: Error {}
        await #expect(throws: Boom.self) { try await firstOf([{ @Sendable () async throws -> Int in throw Boom() }]) }
    }

    @Test func jsonRoundTripKeepsEveryValue() throws {
        let text =
            #"{"apps":{"http":{"servers":{"other":{"listen":[":443"],"idle":12.5,"n":300000000000,"x":null,"on":true}}}},"admin":{"listen":"127.0.0.1:2019"}}"#
        let value = try #require(JSONValue.parse(Data(text.utf8)))
        let again = try #require(JSONValue.parse(try value.encoded()))
        #expect(again == value)
        let other = value.object?["apps"]?.object?["http"]?.object?["servers"]?.object?["other"]?.object
        #expect(other?["n"] == .int(300_000_000_000))
        #expect(other?["idle"] == .double(12.5))
        #expect(other?["on"] == .bool(true))
        #expect(other?["x"] == .null)
        #expect(String(decoding: try JSONValue.object(["b": 1, "a": "/x"]).encoded(), as: UTF8.self) == #"{"a":"/x","b":1}"#)
        #expect(JSONValue.parse(Data("not json".utf8)) == nil)
    }

    @Test func copyReplacesTheTargetWholeWithItsMode() throws {
        let scratch = try Scratch("copy")
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let from = "\(scratch.path)/from"
        try bytes.withUnsafeBytes { try FileIO.create(from, bytes: $0, mode: 0o600) }
        let to = try scratch.write("to", "old")
        try FileIO.copy(from: from, to: to, mode: 0o755)
        #expect(try Data(contentsOf: URL(fileURLWithPath: to)) == Data(bytes))
        var info = stat()
        stat(to, &info)
        #expect(info.st_mode & 0o777 == 0o755)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted() == ["from", "to"], "no temporary left")
        #expect(throws: FileIOError.self) { try FileIO.copy(from: "\(scratch.path)/missing", to: to, mode: 0o755) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: to)) == Data(bytes), "a failed copy must leave the target alone")
    }

    @Test func readTextCanTakeJustTheTail() throws {
        let scratch = try Scratch("tail")
        let file = try scratch.write("log", String(repeating: "x", count: 100_000) + "\nlast line\n")
        #expect(try FileIO.readText(file, lastBytes: 10) == "last line\n")
        #expect(try FileIO.readText(file).count == 100_011)
        #expect(throws: FileIOError.self) { try FileIO.readText("\(scratch.path)/missing") }
    }

    @Test func textHelpersMatchPrintfAndFoundation() {
        #expect(String.fixed(1.23456, digits: 3) == "1.235")
        #expect(String.fixed(0.0004, digits: 3) == "0.000")
        #expect(String.fixed(-2.5, digits: 1) == "-2.5")
        #expect(String.fixed(12, digits: 2) == "12.00")
        #expect(String.hex(10, width: 2) == "0a")
        #expect(String.hex(0x1f, width: 4) == "001f")
        #expect("  a b \t\n".trimmedWhitespace == "a b")
        #expect(" \n ".trimmedWhitespace == "")
        #expect(FileIO.parent("/a/b/c") == "/a/b")
        #expect(FileIO.parent("/a") == "/")
        #expect(FileIO.parent("a") == "")
        #expect(FileIO.parent("/a/b/") == "/a")
        let date = Date(timeIntervalSince1970: 1_795_000_000.25)
        let reference = ISO8601DateFormatter()
        reference.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        #expect(EventLog.timestamp(date) == reference.string(from: date))
    }
}

/// A thread-safe counter for the pool test.
private final class Counter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func increment() { count.withLock { $0 += 1 } }
}

@Suite struct VersionTests {
    @Test func theVersionLineNamesTheCommitOrSaysItIsUnknown() {
        #expect(JailPilotVersionProbe.describe(version: "0.1.0", commit: "3f2c1e0a9b7d") == "0.1.0 (commit 3f2c1e0a9b7d)")
        #expect(JailPilotVersionProbe.describe(version: "0.1.0", commit: nil).contains("commit unknown"))
        #expect(JailPilotVersionProbe.describe(version: "0.1.0", commit: "$(x)").contains("commit unknown"))
    }
}
