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

    @Test func aRedirectToAnotherPortOrHostNeverCarriesTheToken() async throws {
        let secrets = try Scratch("secrets")
        let record = "\(secrets.path)/received"
        let elsewhere = freePort()
        let recorder = try await Background(
            ["/usr/bin/env", "python3", Self.server, "--record", "\(elsewhere)", record], port: elsewhere)
        defer { recorder.stop() }
        let front = freePort()
        let redirector = try await Background(
            ["/usr/bin/env", "python3", Self.server, "--redirect", "\(front)", "http://127.0.0.1:\(elsewhere)"], port: front)
        defer { redirector.stop() }
        let tokenFile = try secrets.write("token", "never-elsewhere\n")
        let error = await #expect(throws: GitError.self) {
            try await RemoteRefs().list(RemoteAccess(url: "http://127.0.0.1:\(front)/repo", tokenFile: tokenFile))
        }
        #expect(
            error?.description.contains("credentials are only sent to http://127.0.0.1:\(front)") == true,
            "\(String(describing: error))")
        let received = (try? String(contentsOfFile: record, encoding: .utf8)) ?? ""
        #expect(received.contains("Authorization: none"), "the redirect target was asked: \(received)")
        #expect(!received.contains("Basic"), "credentials reached the redirect target: \(received)")
    }

    @Test func credentialsInTheURLAndCleartextTokensAreRefusedByCheckAndMaskedEverywhere() throws {
        func issues(_ app: String) -> [String] {
            let text = "[agent]\nplatform = \"linux\"\n[apps.hello]\nhostnames = [\"h.example.org\"]\n" + app
            do {
                _ = try ConfigLoader.parse(text, file: "agent.conf")
                return []
            } catch let error as ConfigError { return error.issues.map { "\($0)" } } catch { return ["\(error)"] }
        }
        let inURL = issues("repo = \"https://ghp_SECRET123@git.example.org/me/hello.git\"")
        #expect(inURL.contains { $0.contains("put the token in token_file") }, "\(inURL)")
        #expect(!inURL.joined().contains("ghp_SECRET123"), "the check itself must not print the token")
        let cleartext = issues("repo = \"http://git.example.org/me/hello.git\"\ntoken_file = \"/etc/t\"")
        #expect(cleartext.contains { $0.contains("cleartext") }, "\(cleartext)")
        #expect(issues("repo = \"http://127.0.0.1:8080/me/hello.git\"\ntoken_file = \"/etc/t\"").isEmpty)
        #expect(RemoteAccess.redact("https://ghp_SECRET123@git.example.org/x") == "https://***@git.example.org/x")
        #expect(RemoteAccess.redact("https://u:p@git.example.org/x") == "https://***@git.example.org/x")
        #expect(RemoteAccess.redact("ssh://git@git.example.org/x") == "ssh://git@git.example.org/x")
        #expect(RemoteAccess.origin("HTTPS://Git.Example.org/x") == "https://git.example.org:443")
        #expect(RemoteAccess.origin("http://127.0.0.1:8080/x?y") == "http://127.0.0.1:8080")
    }
}
