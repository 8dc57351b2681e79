import Foundation
import JailPilot
import JailPilotTesting
import Testing

@Suite(.serialized) struct BuildTests {
    @Test(.enabled(if: have("go"), "needs the Go toolchain (golang-go)"))
    func buildsTheFixtureAppAndReusesTheArtifact() async throws {
        let repo = try await GitFixture()
        let sha = try await repo.commitHello()
        let state = try Scratch("state")
        let runtime = try Runtime(config: try TestAgentConf.hello(stateDir: state.path, repo: repo.fileURL).config(), echo: false)
        let pipeline = SourcePipeline(runtime: runtime)
        let first = try await pipeline.build(try runtime.app("hello"))
        #expect(first.sha == sha)
        #expect(!first.build.reused)
        #expect(FileManager.default.isExecutableFile(atPath: first.build.artifact))
        // The binary is static (CGO_ENABLED=0): no ELF interpreter, so it runs in a bare jail.
        let header = try await sh(["sh", "-c", "od -c \"$0\" | head -50", first.build.artifact])
        #expect(!header.contains("l   d   -   l   i   n   u   x"))
        let second = try await pipeline.build(try runtime.app("hello"))
        #expect(second.build.reused && second.build.artifact == first.build.artifact)
        // Staging is cleaned whatever happened.
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(state.path)/staging").isEmpty)
        let log = try String(contentsOfFile: "\(state.path)/agent.log", encoding: .utf8)
        #expect(log.contains("event=fetch.ok"))
        #expect(log.contains("event=build.ok"))
        #expect(log.contains("event=build.reused"))
        let events = try runtime.store.events(app: "hello").map(\.name)
        #expect(events.contains("build.ok") && events.contains("export.ok"))
    }

    @Test func buildEnvironmentIsMinimalAndExplicit() async throws {
        let repo = try await GitFixture()
        try await repo.commit(["x": "1"])
        let state = try Scratch("state")
        let config = try TestAgentConf.hello(
            stateDir: state.path, repo: repo.fileURL,
            lines: "build = [\"sh\", \"-c\", \"env > \\\"$0\\\"\", \"{out}\"]\nbuild_env = { EXTRA = \"yes\" }"
        ).config()
        let runtime = try Runtime(config: config, echo: false)
        setenv("JAILPILOT_TEST_LEAK", "leaked", 1)
        let result = try await SourcePipeline(runtime: runtime).build(try runtime.app("hello"))
        let env = try String(contentsOfFile: result.build.artifact, encoding: .utf8)
        #expect(env.contains("CGO_ENABLED=0"))
        #expect(env.contains("GOCACHE=\(state.path)/cache/hello/go-build"), "each app has caches of its own")
        #expect(env.contains("GOMODCACHE=\(state.path)/cache/hello/gomod"))
        #expect(env.contains("EXTRA=yes"))
        #expect(env.contains("JAILPILOT_SHA=\(result.sha)"))
        #expect(!env.contains("JAILPILOT_TEST_LEAK"))
    }

    @Test(.enabled(if: have("go"), "needs the Go toolchain (golang-go)"))
    func failingBuildShowsTheLogTailAndKeepsTheLog() async throws {
        let repo = try await GitFixture()
        try await repo.commit([
            "main.go": "package main\n\nfunc main() { undefinedThing() }\n", "go.mod": "module broken\n\ngo 1.19\n",
        ])
        let state = try Scratch("state")
        let runtime = try Runtime(config: try TestAgentConf.hello(stateDir: state.path, repo: repo.fileURL).config(), echo: false)
        let error = await #expect(throws: BuildError.self) {
            try await SourcePipeline(runtime: runtime).build(try runtime.app("hello"))
        }
        let text = error?.description ?? ""
        #expect(text.contains("failed (exit status"))
        #expect(text.contains("undefined: undefinedThing"))
        let logPath = try #require(text.split(separator: "full log: ").last?.split(separator: "\n").first.map(String.init))
        #expect(try String(contentsOfFile: logPath, encoding: .utf8).contains("undefinedThing"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(state.path)/staging").isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(state.path)/artifacts/hello"))
    }

    @Test func buildOverItsTimeLimitIsKilledAndRecorded() async throws {
        let repo = try await GitFixture()
        try await repo.commit(["x": "1"])
        let state = try Scratch("state")
        let config = try TestAgentConf.hello(
            stateDir: state.path, repo: repo.fileURL,
            lines: "build = [\"sh\", \"-c\", \"echo compiling; sleep 60\", \"{out}\"]\nbuild_timeout = \"500ms\""
        ).config()
        let runtime = try Runtime(config: config, echo: false)
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: BuildError.self) {
            try await SourcePipeline(runtime: runtime).build(try runtime.app("hello"))
        }
        #expect(clock.now - start < .seconds(15))
        #expect(error?.description.contains("exceeded its time limit of 500ms and was killed") == true)
        #expect(error?.description.contains("compiling") == true)
        #expect(try runtime.store.events(app: "hello").last?.name == "build.failed")
    }

    @Test func buildThatWritesNoBinaryIsAnError() async throws {
        let repo = try await GitFixture()
        try await repo.commit(["x": "1"])
        let state = try Scratch("state")
        let config = try TestAgentConf.hello(stateDir: state.path, repo: repo.fileURL, lines: "build = [\"true\", \"{out}\"]")
            .config()
        let runtime = try Runtime(config: config, echo: false)
        let error = await #expect(throws: BuildError.self) {
            try await SourcePipeline(runtime: runtime).build(try runtime.app("hello"))
        }
        #expect(error?.description.contains("wrote no binary") == true)
    }

    @Test(.enabled(if: isRoot, "needs root to mount a small tmpfs"))
    func fullStagingDiskIsCleanedUpAndReported() async throws {
        let repo = try await GitFixture()
        // 8 MiB of zeros compresses to almost nothing in the pack but fills a 4 MiB disk on export.
        try await sh(["sh", "-c", "head -c 8388608 /dev/zero > \"$0\"", "\(repo.work)/big.bin"])
        try await repo.commit(["main.go": "package main\n"])
        let state = try Scratch("state")
        try await sh(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", state.path])
        defer { _ = try? FileIO.removeTree("\(state.path)/staging") }
        let runtime = try Runtime(config: try TestAgentConf.hello(stateDir: state.path, repo: repo.fileURL).config(), echo: false)
        let error = await #expect(throws: BuildError.self) {
            try await SourcePipeline(runtime: runtime).build(try runtime.app("hello"))
        }
        #expect(error?.description.contains("disk full") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(state.path)/staging").isEmpty)
        #expect(try runtime.store.events(app: "hello").last?.name == "build.failed")
        _ = try? await sh(["umount", "-l", state.path])
    }

    @Test(.enabled(if: isRoot, "needs root to mount a small tmpfs"))
    func fullDiskDuringFetchIsAClearErrorAndKeepsTheMirrorUsable() async throws {
        let repo = try await GitFixture()
        try await repo.commit(["a.txt": "small\n"])
        let state = try Scratch("state")
        try await sh(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", state.path])
        let runtime = try Runtime(config: try TestAgentConf.hello(stateDir: state.path, repo: repo.fileURL).config(), echo: false)
        let pipeline = SourcePipeline(runtime: runtime)
        let first = try await pipeline.fetch(try runtime.app("hello")).1.head
        // 6 MiB of random bytes do not compress: the next fetch cannot fit.
        try await sh(["sh", "-c", "head -c 6291456 /dev/urandom > \"$0\"", "\(repo.work)/big.bin"])
        try await repo.commit(["b.txt": "big\n"])
        let error = await #expect(throws: (any Error).self) { try await pipeline.fetch(try runtime.app("hello")) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("No space left on device"))
        // The mirror still answers with what it had.
        let mirror = Mirror(path: runtime.layout.mirror("hello"))
        #expect(try await mirror.resolve(nil, branch: "main", url: repo.fileURL) == first)
        _ = try? await sh(["umount", "-l", state.path])
    }

    @Test func shaThatIsNotOnTheBranchIsRefusedAfterFetch() async throws {
        let repo = try await GitFixture()
        try await repo.commit(["x": "1"])
        let state = try Scratch("state")
        let runtime = try Runtime(config: try TestAgentConf.hello(stateDir: state.path, repo: repo.fileURL).config(), echo: false)
        let error = await #expect(throws: GitWatchError.self) {
            try await SourcePipeline(runtime: runtime).build(try runtime.app("hello"), sha: "0123456789abcdef")
        }
        #expect(error?.description.contains("commit 0123456789abcdef is not on branch 'main'") == true)
    }
}
