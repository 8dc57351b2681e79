import Foundation
import JailPilot
import Testing

/// Private repositories over smart HTTP with a token read from a file.
@Suite struct HTTPTokenTests {
    static let server = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/git-http.py")
        .path

    func serve(_ repo: GitFixture, token: String) async throws -> (Background, Int) {
        let port = freePort()
        let server = try await Background(
            ["/usr/bin/env", "python3", Self.server, repo.scratch.path, "\(port)", token], port: port)
        return (server, port)
    }

    @Test func tokenFromFileOpensThePrivateRepo() async throws {
        let repo = try await GitFixture()
        let sha = try await repo.commit(["a": "1"])
        let (server, port) = try await serve(repo, token: "s3cret-token")
        defer { server.stop() }
        let secrets = try Scratch("secrets")
        let tokenFile = try secrets.write("token", "s3cret-token\n")
        let access = RemoteAccess(url: "http://127.0.0.1:\(port)/repo", tokenFile: tokenFile)
        #expect(try await RemoteRefs().head(of: "main", at: access) == sha)
        let mirror = Mirror(path: "\(secrets.path)/m.git")
        #expect(try await mirror.fetch(access, branch: "main").head == sha)
    }

    @Test func wrongOrMissingTokenIsAClearErrorWithoutTheSecret() async throws {
        let repo = try await GitFixture()
        try await repo.commit(["a": "1"])
        let (server, port) = try await serve(repo, token: "right-token")
        defer { server.stop() }
        let secrets = try Scratch("secrets")
        let wrong = try secrets.write("token", "wrong-token-value\n")
        let url = "http://127.0.0.1:\(port)/repo"
        let refused = await #expect(throws: GitError.self) {
            try await RemoteRefs().list(RemoteAccess(url: url, tokenFile: wrong))
        }
        #expect(refused?.description.contains("authentication to \(url) was refused") == true)
        #expect(refused?.description.contains("wrong-token-value") == false)
        let missing = await #expect(throws: GitError.self) {
            try await RemoteRefs().list(RemoteAccess(url: url, tokenFile: "\(secrets.path)/absent"))
        }
        #expect(missing?.description.contains("token_file \(secrets.path)/absent is missing") == true)
        let none = await #expect(throws: GitError.self) { try await RemoteRefs().list(RemoteAccess(url: url)) }
        #expect(none?.description.contains("set token_file") == true)
    }
}
