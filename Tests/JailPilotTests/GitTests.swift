import Foundation
import JailPilot
import Testing

@Suite struct GitTests {
    @Test func listsRefsOverFileURL() async throws {
        let repo = try await GitFixture()
        let sha = try await repo.commit(["a.txt": "one"])
        try await repo.git(["branch", "release"])
        let refs = try await RemoteRefs().list(RemoteAccess(url: repo.fileURL))
        #expect(refs.contains(RemoteRef(name: "refs/heads/main", sha: sha)))
        #expect(refs.contains(RemoteRef(name: "refs/heads/release", sha: sha)))
        #expect(try await RemoteRefs().head(of: "main", at: RemoteAccess(url: repo.fileURL)) == sha)
    }

    @Test func listsRefsOverGitDaemonOnLoopback() async throws {
        let repo = try await GitFixture()
        let sha = try await repo.commit(["a.txt": "one"])
        let (daemon, port) = try await gitDaemon(base: repo.scratch.path)
        defer { daemon.stop() }
        let access = RemoteAccess(url: "git://127.0.0.1:\(port)/repo")
        #expect(try await RemoteRefs().head(of: "main", at: access) == sha)
    }

    @Test func missingBranchListsTheBranchesThereAre() async throws {
        let repo = try await GitFixture()
        try await repo.commit(["a.txt": "one"])
        let error = await #expect(throws: GitWatchError.self) {
            try await RemoteRefs().head(of: "mian", at: RemoteAccess(url: repo.fileURL))
        }
        #expect(error?.description.contains("branch 'mian' does not exist") == true)
        #expect(error?.description.contains("it has: main") == true)
    }

    @Test func unreachableRemoteIsAClearError() async throws {
        let port = freePort()  // nothing listens there
        let error = await #expect(throws: GitError.self) {
            try await RemoteRefs().list(RemoteAccess(url: "git://127.0.0.1:\(port)/nothing"))
        }
        #expect(error?.call == "git_remote_connect")
        #expect(error?.description.contains("reachable") == true)
    }

    @Test func remoteThatNeverAnswersTimesOut() async throws {
        // A listener that accepts connections (the kernel does) but never says a word.
        let port = freePort()
        let silent = try await Background(
            [
                "/usr/bin/env", "python3", "-c",
                "import socket, time; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', \(port))); s.listen(8); time.sleep(60)",
            ],
            port: port)
        defer { silent.stop() }
        var access = RemoteAccess(url: "git://127.0.0.1:\(port)/repo")
        access.listTimeout = .milliseconds(500)
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: DeadlineExceeded.self) { try await RemoteRefs().list(access) }
        #expect(error?.description == "remote git://127.0.0.1:\(port)/repo did not answer within 500ms")
        #expect(clock.now - start < .seconds(5))
    }

    @Test func wrongSchemeIsRefusedBeforeConnecting() async throws {
        let error = await #expect(throws: GitWatchError.self) {
            try await RemoteRefs().list(RemoteAccess(url: "ftp://127.0.0.1/repo.git"))
        }
        #expect(error?.description.contains("scheme 'ftp'") == true)
    }

    @Test func passwordsInURLsAreRedacted() {
        #expect(RemoteAccess(url: "https://me:s3cret@example.org/r.git").redactedURL == "https://***@example.org/r.git")
        #expect(RemoteAccess(url: "https://example.org/r.git").redactedURL == "https://example.org/r.git")
    }

    @Test func secondFetchTransfersOnlyNewObjects() async throws {
        let repo = try await GitFixture()
        var files: [String: String] = [:]
        for i in 0..<50 { files["dir\(i % 5)/file\(i).txt"] = String(repeating: "line \(i)\n", count: 100) }
        try await repo.commit(files)
        let (daemon, port) = try await gitDaemon(base: repo.scratch.path)
        defer { daemon.stop() }
        let scratch = try Scratch("mirror")
        let mirror = Mirror(path: "\(scratch.path)/m.git")
        let access = RemoteAccess(url: "git://127.0.0.1:\(port)/repo")
        let first = try await mirror.fetch(access, branch: "main")
        #expect(first.receivedObjects >= 57)  // 50 blobs + 6 trees + 1 commit
        let second = try await mirror.fetch(access, branch: "main")
        #expect(second.receivedObjects == 0)
        let sha = try await repo.commit(["dir0/file0.txt": "changed\n"])
        let third = try await mirror.fetch(access, branch: "main")
        #expect(third.head == sha)
        #expect(third.receivedObjects > 0 && third.receivedObjects <= 4)  // commit, root tree, dir0 tree, blob
    }

    @Test func forcePushedHeadIsFollowed() async throws {
        let repo = try await GitFixture()
        let first = try await repo.commit(["a": "1"])
        try await repo.commit(["a": "2"])
        let scratch = try Scratch("mirror")
        let mirror = Mirror(path: "\(scratch.path)/m.git")
        _ = try await mirror.fetch(RemoteAccess(url: repo.fileURL), branch: "main")
        try await repo.git(["reset", "-q", "--hard", first])
        let after = try await mirror.fetch(RemoteAccess(url: repo.fileURL), branch: "main")
        #expect(after.head == first)
    }

    @Test func shaResolutionAcceptsPrefixesOnTheBranchOnly() async throws {
        let repo = try await GitFixture()
        let old = try await repo.commit(["a": "1"])
        let head = try await repo.commit(["a": "2"])
        try await repo.git(["checkout", "-q", "-b", "side"])
        let side = try await repo.commit(["a": "3"])
        try await repo.git(["checkout", "-q", "main"])
        let scratch = try Scratch("mirror")
        let mirror = Mirror(path: "\(scratch.path)/m.git")
        _ = try await mirror.fetch(RemoteAccess(url: repo.fileURL), branch: "main")
        #expect(try await mirror.resolve(nil, branch: "main", url: "r") == head)
        #expect(try await mirror.resolve(String(old.prefix(9)), branch: "main", url: "r") == old)
        let error = await #expect(throws: GitWatchError.self) {
            try await mirror.resolve(side, branch: "main", url: "r")
        }
        #expect(error?.description.contains("is not on branch 'main'") == true)
        await #expect(throws: GitWatchError.self) {
            try await mirror.resolve("deadbeefdeadbeef", branch: "main", url: "r")
        }
    }

    @Test func exportWritesFilesModesAndSafeSymlinks() async throws {
        let repo = try await GitFixture()
        try repo.scratch.write("repo/run.sh", "#!/bin/sh\necho hi\n")
        try await sh(["chmod", "+x", "\(repo.work)/run.sh"])
        try await sh(["ln", "-s", "run.sh", "\(repo.work)/link"])
        let sha = try await repo.commit(["sub/dir/file.txt": "deep"])
        let scratch = try Scratch("export")
        let mirror = Mirror(path: "\(scratch.path)/m.git")
        _ = try await mirror.fetch(RemoteAccess(url: repo.fileURL), branch: "main")
        let stats = try await mirror.export(sha, to: "\(scratch.path)/out")
        #expect(stats.files == 3)
        #expect(try String(contentsOfFile: "\(scratch.path)/out/sub/dir/file.txt", encoding: .utf8) == "deep")
        #expect(FileManager.default.isExecutableFile(atPath: "\(scratch.path)/out/run.sh"))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(scratch.path)/out/link") == "run.sh")
    }

    @Test func exportRefusesSymlinksLeavingTheTree() async throws {
        let repo = try await GitFixture()
        try await sh(["ln", "-s", "/etc/passwd", "\(repo.work)/passwd"])
        let sha = try await repo.commit(["a": "1"])
        let scratch = try Scratch("export")
        let mirror = Mirror(path: "\(scratch.path)/m.git")
        _ = try await mirror.fetch(RemoteAccess(url: repo.fileURL), branch: "main")
        let error = await #expect(throws: GitWatchError.self) {
            try await mirror.export(sha, to: "\(scratch.path)/out")
        }
        #expect(error?.description.contains("refusing to export tree entry 'passwd'") == true)
    }

    @Test func hostileRefNamesAreRejected() {
        for bad in ["a..b", "with space", "ctl\u{7}", "-flag", "x/.hidden", "end.lock", "a@{1}", "tab\tname", "semi;colon:x"] {
            #expect(Names.refNameProblem(bad) != nil, "\(bad) should be refused")
        }
        for good in ["main", "release/2024-11", "feature_x"] {
            #expect(Names.refNameProblem(good) == nil)
        }
    }
}
