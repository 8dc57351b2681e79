import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// What state_dir keeps of apps taken out of agent.conf, and what `status` says each app uses.
/// No root: the store, the files and the clock are real, the clock is moved by hand.
@Suite struct RemovedAppsTests {
    /// A state_dir with an app's mirror, build cache, artifacts and logs.
    struct StateDir {
        let scratch: Scratch
        let layout: StateLayout
        let store: StateStore
        let clock = VirtualClock()
        let log: EventLog

        init() throws {
            scratch = try Scratch("removed")
            layout = StateLayout(root: "\(scratch.path)/state")
            store = try StateStore(stateDir: layout.root, clock: clock)
            log = EventLog(path: "\(layout.root)/agent.log", echo: false, store: nil)
        }

        var sweeper: RemovedApps { RemovedApps(store: store, layout: layout, log: log) }

        /// Gives `app` one file of `bytes` in each of its directories; returns those directories.
        @discardableResult
        func populate(_ app: String, bytes: Int = 10_000) throws -> [String] {
            let sha = String(repeating: "a", count: 40)
            let files = [
                "\(layout.mirror(app))/objects/pack/p.pack", "\(layout.goBuildCache(app))/00/x-d",
                "\(layout.artifactDir(app, sha))/\(app)", "\(layout.logs(app))/build-\(sha.prefix(12)).log",
            ]
            for file in files {
                try FileIO.makeDirectories(FileIO.parent(file))
                try Data(repeating: 7, count: bytes).write(to: URL(fileURLWithPath: file))
            }
            return [layout.mirror(app), layout.buildCache(app), FileIO.parent(layout.artifactDir(app, sha)), layout.logs(app)]
        }

        var agentLog: String { (try? String(contentsOfFile: "\(layout.root)/agent.log", encoding: .utf8)) ?? "" }
    }

    @Test func aRemovedAppsFilesGoAfterTheGraceAndNotBefore() async throws {
        let state = try StateDir()
        try state.populate("kept")
        let gone = try state.populate("gone")
        let serving = try state.populate("serving")
        // Removed from agent.conf but still live (its route is kept): nothing of it may go.
        _ = try state.store.seedRelease(
            app: "serving", sha: String(repeating: "b", count: 40), state: .live, address: "10.0.0.2")
        let data = "\(state.layout.root)/../data/gone"  // the app's data lives outside state_dir and is never touched
        try FileIO.makeDirectories(data)

        let grace = Retention.removedAppGrace
        #expect(try state.sweeper.sweep(configured: ["kept"], grace: grace).isEmpty)
        #expect(try state.store.removedApps().map(\.app) == ["gone"], "the grace starts for the app with no jail only")
        #expect(state.agentLog.contains("event=app.removed_files_kept"))

        state.clock.advance(grace - .seconds(60))
        #expect(try state.sweeper.sweep(configured: ["kept"], grace: grace).isEmpty, "a minute early")
        for dir in gone { #expect(FileIO.exists(dir), "\(dir) kept during the grace") }

        state.clock.advance(.seconds(61))
        #expect(try state.sweeper.sweep(configured: ["kept"], grace: grace) == ["gone"])
        try await state.sweeper.emptyTrash()
        for dir in gone { #expect(!FileIO.exists(dir), "\(dir) pruned") }
        for dir in serving + (try state.populate("kept")) { #expect(FileIO.exists(dir), "\(dir) kept") }
        #expect(FileIO.exists(data))
        #expect(!FileIO.exists("\(state.layout.root)/trash"))
        #expect(try state.store.removedApps().isEmpty)
        #expect(state.agentLog.contains("app=gone event=app.files_pruned bytes="), "\(state.agentLog)")
    }

    @Test func anAppPutBackDuringItsGraceKeepsItsFiles() async throws {
        let state = try StateDir()
        let back = try state.populate("back")
        try state.sweeper.sweep(configured: [], grace: .seconds(3600))
        #expect(try state.store.removedApps().map(\.app) == ["back"])
        state.clock.advance(.seconds(1800))
        try state.sweeper.sweep(configured: ["back"], grace: .seconds(3600))
        #expect(try state.store.removedApps().isEmpty, "back in agent.conf: forgotten")
        // Removed again later: a new grace, from then.
        state.clock.advance(.seconds(1800))
        try state.sweeper.sweep(configured: [], grace: .seconds(3600))
        state.clock.advance(.seconds(1800))
        #expect(try state.sweeper.sweep(configured: [], grace: .seconds(3600)).isEmpty)
        for dir in back { #expect(FileIO.exists(dir)) }
        state.clock.advance(.seconds(1800))
        #expect(try state.sweeper.sweep(configured: [], grace: .seconds(3600)) == ["back"])
    }

    @Test func aPruneCutShortIsFinishedByTheNextSweep() async throws {
        let state = try StateDir()
        try state.populate("gone")
        try state.sweeper.sweep(configured: [], grace: .zero)
        #expect(try state.sweeper.sweep(configured: [], grace: .zero) == ["gone"])
        // The agent died before it emptied the trash: the directories are out of the way already.
        #expect(FileIO.exists("\(state.layout.root)/trash") && !FileIO.exists(state.layout.mirror("gone")))
        try await state.sweeper.emptyTrash()
        #expect(!FileIO.exists("\(state.layout.root)/trash"))
    }

    @Test func statusSaysWhatEachAppKeepsOnDisk() throws {
        let state = try StateDir()
        try state.populate("hello", bytes: 3 << 20)
        let use = AppDiskUse.measure("hello", layout: state.layout)
        #expect(use.artifacts == 1)
        #expect(use.artifactBytes >= 3 << 20 && use.mirrorBytes >= 3 << 20 && use.cacheBytes >= 3 << 20)
        #expect(use.total >= 12 << 20)
        #expect(use.text.hasPrefix("1 artifact 3.0 MiB, mirror 3.0 MiB, build caches 3.0 MiB, logs 3.0 MiB"), "\(use.text)")
        #expect(AppDiskUse.measure("nothing", layout: state.layout).total == 0)
        #expect(ByteCount.approximate(900) == "900 B" && ByteCount.approximate(1536) == "1.5 KiB")
    }
}
