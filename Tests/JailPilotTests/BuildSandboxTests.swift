import CSpawn
import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// A commit is input from outside: each attack a pushed tree can make on the build host, as a
/// fixture repository, must fail without a byte of a root-only canary reaching the build log,
/// the error or the artifact. The sandbox needs root (it runs the build as jailpilot-build).
@Suite(.serialized, .enabled(if: isRoot && have("go") && have("bwrap"), "needs root, go and bubblewrap"))
struct BuildSandboxTests {
    /// A root-only file outside the tree, whose content must never show up anywhere.
    struct Canary {
        let scratch: Scratch
        let path: String
        let secret = "CANARY" + UUID().uuidString.replacingOccurrences(of: "-", with: "")

        init() throws {
            scratch = try Scratch("canary")
            chmod(scratch.path, 0o700)
            path = try scratch.write("secret", secret + "\n")
            chmod(path, 0o600)
        }

        /// Fails the test if the secret is in any of `texts` or in any file under `directories`.
        func expectAbsent(in texts: [String], files: [String], sourceLocation: SourceLocation = #_sourceLocation) {
            for text in texts { #expect(!text.contains(secret), "the canary leaked", sourceLocation: sourceLocation) }
            for file in files {
                let data = FileManager.default.contents(atPath: file) ?? Data()
                #expect(
                    !String(decoding: data, as: UTF8.self).contains(secret), "the canary leaked into \(file)",
                    sourceLocation: sourceLocation)
            }
        }
    }

    /// A tree whose assembly file `#include`s the canary: the assembler would print it.
    @discardableResult
    static func includeAttack(_ canary: Canary, in repo: GitFixture? = nil) async throws -> GitFixture {
        let repo = try await Self.repo(repo)
        try await repo.commit([
            "go.mod": "module hello\n\ngo 1.19\n",
            "main.go": "package main\n\nfunc leak()\n\nfunc main() { leak() }\n",
            "leak_amd64.s": "#include \"\(canary.path)\"\n\nTEXT ·leak(SB),0,$0-0\n\tRET\n",
        ])
        return repo
    }

    /// A tree whose go.mod replaces a module by a root-only directory holding the canary.
    @discardableResult
    static func replaceAttack(_ canary: Canary, in repo: GitFixture? = nil) async throws -> GitFixture {
        try canary.scratch.write("private/leak.go", "package private\n\nconst Secret = \"\(canary.secret)\"\n")
        try canary.scratch.write("private/go.mod", "module example.com/private\n\ngo 1.19\n")
        let repo = try await Self.repo(repo)
        try await repo.commit([
            "go.mod":
                "module hello\n\ngo 1.19\n\nrequire example.com/private v0.0.0\n\nreplace example.com/private => \(canary.scratch.path)/private\n",
            "main.go":
                "package main\n\nimport (\"fmt\"; \"example.com/private\")\n\nfunc main() { fmt.Println(private.Secret) }\n",
        ])
        return repo
    }

    static func repo(_ given: GitFixture?) async throws -> GitFixture {
        if let given { return given }
        return try await GitFixture()
    }

    func build(_ repo: GitFixture, extraApp: String = "") async throws -> (error: String, log: String, state: Scratch) {
        let state = try Scratch("state")
        let runtime = try Runtime(
            config: try TestAgentConf.hello(stateDir: state.path, repo: repo.fileURL, lines: extraApp).config(), echo: false)
        var text = ""
        do { _ = try await SourcePipeline(runtime: runtime).build(try runtime.app("hello")) } catch { text = "\(error)" }
        let logs = (try? FileManager.default.subpathsOfDirectory(atPath: "\(state.path)/logs")) ?? []
        let log = logs.compactMap { try? String(contentsOfFile: "\(state.path)/logs/\($0)", encoding: .utf8) }.joined()
        return (text, log, state)
    }

    @Test func aChainOfSymlinksThatLeadsOutIsRefusedAtExport() async throws {
        let canary = try Canary()
        let repo = try await GitFixture()
        // d1/…/d20/x -> ../×20 is harmless alone; go.mod -> d1/…/d20/x/../…/secret leaves the tree.
        let deep = (1...20).map { "d\($0)" }.joined(separator: "/")
        try FileIO.makeDirectories("\(repo.work)/\(deep)")
        try FileManager.default.createSymbolicLink(
            atPath: "\(repo.work)/\(deep)/x", withDestinationPath: Array(repeating: "..", count: 20).joined(separator: "/"))
        let up = Array(repeating: "..", count: 12).joined(separator: "/")
        try FileManager.default.createSymbolicLink(
            atPath: "\(repo.work)/go.mod", withDestinationPath: "\(deep)/x/\(up)\(canary.path)")
        try await repo.commit(["main.go": "package main\nfunc main() {}\n"])
        let (error, log, state) = try await build(repo)
        #expect(error.contains("leads outside the source tree"), "\(error)")
        canary.expectAbsent(in: [error, log], files: [])
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(state.path)/staging").isEmpty)
    }

    @Test func anAssemblyIncludeOfAHostFileCannotReadIt() async throws {
        let canary = try Canary()
        let (error, log, _) = try await build(try await Self.includeAttack(canary))
        #expect(!error.isEmpty, "the build must fail: the include is not there")
        canary.expectAbsent(in: [error, log], files: [])
    }

    @Test func aReplaceDirectiveToAPrivateDirectoryIsNotThere() async throws {
        let canary = try Canary()
        let (error, log, state) = try await build(try await Self.replaceAttack(canary))
        #expect(error.contains("failed"), "\(error)")
        let artifacts = (try? FileManager.default.subpathsOfDirectory(atPath: "\(state.path)/artifacts")) ?? []
        canary.expectAbsent(in: [error, log], files: artifacts.map { "\(state.path)/artifacts/\($0)" })
    }

    @Test(arguments: [false, true])
    func theBuildCannotReachAListenerOnTheHost(network: Bool) async throws {
        let listener = try TCPRecorder()
        let repo = try await GitFixture()
        try await repo.commit(["x": "1"])
        let (error, _, _) = try await build(
            repo,
            extraApp: """
                build = ["curl", "-s", "-m", "3", "-o", "{out}", "http://127.0.0.1:\(listener.port)/"]
                build_network = \(network)
                """)
        #expect(error.contains("failed"), "\(error)")
        #expect(listener.accepted == 0, "the build reached the host (build_network = \(network))")
    }

    @Test func theBuildLogIsRootOnlyAndTheArtifactRootsOwn() async throws {
        let repo = try await GitFixture()
        try await repo.commitHello()
        let state = try Scratch("state")
        let runtime = try Runtime(config: try TestAgentConf.hello(stateDir: state.path, repo: repo.fileURL).config(), echo: false)
        let outcome = try await SourcePipeline(runtime: runtime).build(try runtime.app("hello"))
        let log = try FileManager.default.attributesOfItem(atPath: outcome.build.log)
        #expect((log[.posixPermissions] as? Int) == 0o600)
        let artifact = try FileManager.default.attributesOfItem(atPath: outcome.build.artifact)
        #expect((artifact[.ownerAccountID] as? Int) == 0, "the build user must not be able to change a built binary")
    }

    @Test func aTreeOverMaxTreeSizeIsRefusedBeforeItIsWritten() async throws {
        let repo = try await GitFixture()
        try await repo.commit(["big.bin": String(repeating: "x", count: 64 * 1024), "main.go": "package main\nfunc main() {}\n"])
        let (error, _, state) = try await build(repo, extraApp: "max_tree_size = \"16KiB\"")
        #expect(error.contains("larger than max_tree_size (16KiB)"), "\(error)")
        #expect(error.contains("big.bin"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(state.path)/staging").isEmpty)
    }
}

/// A TCP listener (on 127.0.0.1 unless told otherwise) that counts the connections it accepts.
final class TCPRecorder: @unchecked Sendable {
    let port: Int
    private let fd: Int32
    private let lock = NSLock()
    private var count = 0

    init(address bindAddress: String = "127.0.0.1") throws {
        let sock = socket(AF_INET, socketStream, 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        guard let ip = IPv4Network.socketAddress(bindAddress) else { throw POSIXError(.EINVAL) }
        address.sin_addr = ip
        var one: Int32 = 1
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        listen(sock, 16)
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(sock, $0, &length) }
        }
        fd = sock
        port = Int(UInt16(bigEndian: bound.sin_port))
        Thread.detachNewThread { [weak self] in
            while true {
                let client = accept(sock, nil, nil)
                guard client >= 0 else { return }
                self?.lock.withLock { self?.count += 1 }
                close(client)
            }
        }
    }

    var accepted: Int { lock.withLock { count } }

    deinit {
        shutdown(fd, JP_SHUT_RDWR)
        close(fd)
    }
}
