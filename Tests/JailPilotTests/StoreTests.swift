import Foundation
import JailPilotTesting
import Testing

@testable import JailPilot
@testable import JailPilotCore

@Suite struct StoreTests {
    @Test func eventsSurviveReopening() throws {
        let state = try Scratch("store")
        do {
            let store = try StateStore(stateDir: state.path)
            try store.record(
                Event(app: "hello", sha: "abc", name: "build.ok", took: .milliseconds(1500), fields: [("note", "two words")]))
        }
        let events = try StateStore(stateDir: state.path).events(app: "hello")
        #expect(events.count == 1)
        #expect(events[0].name == "build.ok" && events[0].took == .milliseconds(1500))
        #expect(events[0].fields.first?.1 == "two words")
    }

    @Test func theStoreRefusesAMoveTheTransitionTableDoesNotAllow() throws {
        let state = try Scratch("store")
        let store = try StateStore(stateDir: state.path)
        let sha = String(repeating: "a", count: 40)
        let release = try store.seedRelease(app: "hello", sha: sha, state: .built, address: "10.0.0.2")
        // A build that skipped its health gate never goes live.
        #expect(throws: ReleaseTransitionError.self) { try store.update(release, state: .live) }
        #expect(throws: ReleaseTransitionError.self) { _ = try store.flip(to: release, from: nil) }
        #expect(try store.release(id: release.id)?.state == .built, "nothing was written")
        var moved = release
        for next in [ReleaseState.provisioned, .starting, .healthy] { moved = try store.update(moved, state: next) }
        let live = try store.flip(to: moved, from: nil)
        #expect(live.state == .live)
        try store.update(live, state: .destroyed)
        // A destroyed release never comes back, even from a stale copy that says it is live.
        let error = #expect(throws: ReleaseTransitionError.self) { try store.update(live, state: .retired) }
        #expect(error?.from == .destroyed && error?.description.contains("cannot go from destroyed to retired") == true)
        for from in ReleaseState.allCases { #expect(from.canMove(to: from) == (true), "\(from) may stay") }
        #expect(!ReleaseState.failed.canMove(to: .live) && !ReleaseState.provisioned.canMove(to: .live))
    }

    /// Statements are prepared once and kept, yet a kept one holds no read transaction: another
    /// connection can still write and checkpoint the whole log, and this one sees its rows.
    @Test func keptStatementsSeeOtherWritersAndBlockNoCheckpoint() throws {
        let state = try Scratch("store")
        let store = try StateStore(stateDir: state.path)
        let other = try StateStore(stateDir: state.path)
        let before = store.changeStamp
        for i in 0..<3 {
            _ = try other.seedRelease(
                app: "hello", sha: String(repeating: "\(i)", count: 40), state: .built, address: "10.0.0.\(i + 2)")
            #expect(try store.releases(app: "hello").count == i + 1, "a kept statement reads the newest rows")
        }
        #expect(store.changeStamp != before, "another connection's commits change the stamp")
        let same = store.changeStamp
        #expect(store.changeStamp == same, "reading changes nothing")
        _ = try store.seedRelease(app: "api", sha: String(repeating: "a", count: 40), state: .built, address: "10.0.0.9")
        #expect(store.changeStamp != same, "its own writes change it too")
        // busy, frames in the log, frames checkpointed: a statement left mid-step would hold
        // a read mark and make it busy.
        let checkpoint = try other.locked { try $0.query("PRAGMA wal_checkpoint(TRUNCATE)") }.first ?? []
        #expect(checkpoint.first == .int(0), "\(checkpoint)")
        // SQL made from data cannot grow the cache without end.
        for i in 0..<(SQLiteConnection.preparedLimit * 2) { try store.locked { _ = try $0.query("SELECT \(i)") } }
        #expect(store.locked { $0.preparedCount } <= SQLiteConnection.preparedLimit)
        #expect(try store.locked { try $0.query("SELECT ?", [.int(7)]) } == [[.int(7)]], "bindings are not kept from use to use")
        #expect(try store.locked { try $0.query("SELECT ?", []) } == [[.null]])
    }

    @Test func theEventsTableKeepsTheNewestRows() throws {
        let state = try Scratch("store")
        let store = try StateStore(stateDir: state.path)
        for i in 0..<25 { try store.record(Event(app: "hello", name: "poll.\(i)")) }
        #expect(try store.capEvents(keeping: 10) == 15)
        let events = try store.events(app: "hello", limit: 100)
        #expect(events.map(\.name) == (15..<25).map { "poll.\($0)" })
        #expect(try store.capEvents(keeping: 10) == 0)
    }

    @Test(.enabled(if: have("python3"), "needs python3 to hold the lock"))
    func lockedDatabaseIsRefusedWithAClearMessage() async throws {
        let state = try Scratch("store")
        _ = try StateStore(stateDir: state.path)
        let holder = try BackgroundProcess(
            Command(
                "python3",
                [
                    "-c",
                    "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('BEGIN EXCLUSIVE'); open(sys.argv[2], 'w').close(); time.sleep(30)",
                    "\(state.path)/state.db", "\(state.path)/locked",
                ]))
        defer { holder.terminate() }
        #expect(await eventually(.seconds(10)) { FileManager.default.fileExists(atPath: "\(state.path)/locked") })
        let error = #expect(throws: SQLiteError.self) { try StateStore(stateDir: state.path) }
        #expect(error?.description.contains("another process holds it locked") == true)
        #expect(FileManager.default.fileExists(atPath: "\(state.path)/state.db"))
    }

    /// A full state_dir once made every command say only "disk I/O error".
    @Test(.enabled(if: isRoot, "needs root to mount a small tmpfs"))
    func fullStateDiskSaysSoAndWhere() async throws {
        let state = try Scratch("full")
        try await sh(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", state.path])
        defer { _ = try? FileIO.removeTree("\(state.path)/fill") }
        let store = try StateStore(stateDir: state.path)
        _ = try? await sh(["sh", "-c", "head -c 4194304 /dev/zero > \"$0\"", "\(state.path)/fill"])
        var failure: Error?
        for n in 0..<2000 where failure == nil {
            do {
                try store.record(
                    Event(app: "hello", sha: "abc", name: "filler", fields: [("n", String(repeating: "x", count: 4000 + n))]))
            } catch { failure = error }
        }
        let text = "\(failure.map { "\($0)" } ?? "no error")"
        #expect(text.contains("the disk holding \(state.path) is full"), "\(text)")
        #expect(text.contains("free space there"))
        _ = try? await sh(["umount", "-l", state.path])
    }

    @Test func corruptDatabaseIsRefusedAndKept() throws {
        let state = try Scratch("store")
        let garbage = String(repeating: "this is not sqlite ", count: 300)
        try state.write("state.db", garbage)
        let error = #expect(throws: SQLiteError.self) { try StateStore(stateDir: state.path) }
        #expect(error?.description.contains("damaged") == true)
        #expect(error?.description.contains("restore a backup") == true)
        #expect(try String(contentsOfFile: "\(state.path)/state.db", encoding: .utf8) == garbage)
    }
}

@Suite struct LogfmtTests {
    @Test func quotesOnlyWhatNeedsIt() {
        #expect(Logfmt.pair("event", "build.ok") == "event=build.ok")
        #expect(Logfmt.pair("error", "a \"b\"\nc") == "error=\"a \\\"b\\\"\\nc\"")
        #expect(Logfmt.pair("empty", "") == "empty=\"\"")
    }

    @Test func roundTrips() {
        let pairs = [("a", "1"), ("b", "two words"), ("c", "quote\"and\\slash\nnewline"), ("d", "")]
        let line = pairs.map { Logfmt.pair($0, $1) }.joined(separator: " ")
        #expect(Logfmt.parse(line).map { "\($0)=\($1)" } == pairs.map { "\($0)=\($1)" })
    }

    @Test func eventLinesAreOneLineWithShortSHA() {
        let event = Event(
            app: "hello", sha: "3f2c1e0a9b7d8e9f00112233445566778899aabb", name: "build.failed", took: .milliseconds(12400),
            fields: [("reason", "line1\nline2")], time: Date(timeIntervalSince1970: 0))
        let line = EventLog.format(event)
        #expect(
            line
                == "ts=1970-01-01T00:00:00.000Z app=hello sha=3f2c1e0a9b7d event=build.failed took=12.4s reason=\"line1\\nline2\""
        )
    }
}

@Suite struct KnownHostsTests {
    static let key = Array("ssh-ed25519-key-bytes".utf8)
    static let other = Array("some-other-key".utf8)
    let file = KnownHosts(
        text: """
            # comment
            git.example.org,10.0.0.1 ssh-ed25519 \(Data(key).base64EncodedString())
            [git.example.org]:2222 ssh-ed25519 \(Data(other).base64EncodedString())
            *.wild.example ssh-ed25519 \(Data(key).base64EncodedString())
            @revoked bad.example ssh-ed25519 \(Data(key).base64EncodedString())
            |1|c2FsdA==|aGFzaA== ssh-ed25519 \(Data(key).base64EncodedString())
            """)

    @Test func trustsTheRecordedKey() {
        #expect(file.verify(host: "git.example.org", port: 22, key: Self.key) == .trusted)
        #expect(file.verify(host: "GIT.example.org", port: 22, key: Self.key) == .trusted)
        #expect(file.verify(host: "a.wild.example", port: 22, key: Self.key) == .trusted)
        #expect(file.verify(host: "git.example.org", port: 2222, key: Self.other) == .trusted)
    }

    @Test func refusesUnknownChangedAndRevoked() {
        #expect(file.verify(host: "elsewhere.org", port: 22, key: Self.key) == .unknownHost)
        #expect(file.verify(host: "git.example.org", port: 22, key: Self.other) == .changed)
        #expect(file.verify(host: "git.example.org", port: 2222, key: Self.key) == .changed)
        #expect(file.verify(host: "bad.example", port: 22, key: Self.key) == .revoked)
    }
}
