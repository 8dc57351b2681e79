import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// Replays every input scripts/fuzz ever crashed a parser with (fuzz/regressions/TARGET/) and
/// its seeds: each must now be handled without a trap.
@Suite struct FuzzRegressionTests {
    static let root = "\(E2EHost.repoRoot)/fuzz"

    @Test(arguments: ["toml", "dns", "http", "known_hosts", "webhook"])
    func crashInputsAndSeedsParseWithoutATrap(target: String) throws {
        let state = try Scratch("fuzz")
        try FileIO.replace("\(state.path)/routes", text: "hello 172.16.0.2\n")
        let resolver = RouteResolver(stateDir: state.path)
        var replayed = 0
        for folder in ["regressions", "seeds"] {
            let dir = "\(Self.root)/\(folder)/\(target)"
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                let bytes = try FileIO.readBytes("\(dir)/\(name)", limit: 1 << 20)
                FuzzInput.run(bytes, target: target, resolver: resolver)
                replayed += 1
            }
        }
        #expect(replayed > 0, "no seeds for \(target) in \(Self.root)/seeds")
    }

    // Regression (#32): FuzzInput was library code, linked into the shipped binary with its
    // fatalError (it traps on purpose when the request parsers disagree).
    @Test func theShippedBinaryHoldsNoFuzzHarness() throws {
        try #require(FileManager.default.isExecutableFile(atPath: CrashTests.binary), "build the jailpilot binary first")
        let binary = try Data(contentsOf: URL(fileURLWithPath: CrashTests.binary))
        #expect(binary.range(of: Data("9FuzzInputO".utf8)) == nil, "FuzzInput is linked into \(CrashTests.binary)")
        #expect(binary.range(of: Data("HTTPRequest.Reader saw".utf8)) == nil, "the harness's trap is in the binary")
    }

    /// The inputs libFuzzer found, as readable cases: a signed chunk size and Content-Length.
    @Test func signedSizesInHTTPResponsesAreMalformedNotATrap() throws {
        let endpoint = HTTPEndpoint.tcp(host: "127.0.0.1", port: 1)
        let chunked = Data("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n".utf8)
        #expect(try HTTPClient.parse(chunked, endpoint: endpoint, atEOF: true) == nil)
        let huge = Data("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\nhello\r\n".utf8)
        #expect(try HTTPClient.parse(huge, endpoint: endpoint, atEOF: true) == nil)
        let negative = Data("HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello".utf8)
        #expect(throws: HTTPError.self) { try HTTPClient.parse(negative, endpoint: endpoint) }
        let good = Data("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".utf8)
        #expect(try HTTPClient.parse(good, endpoint: endpoint)?.text == "hello")
    }

    /// The timeout libFuzzer found: a host pattern of many `*` took exponential time.
    @Test func hostPatternsMatchLikeOpenSSHInLinearTime() {
        let text =
            "git.example.org,!bad.example.org,*.corp,ex?mple.net ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
        let hosts = KnownHosts(text: text)
        let key = Array(Data(base64Encoded: "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl")!)
        #expect(hosts.verify(host: "git.example.org", port: 22, key: key) == .trusted)
        #expect(hosts.verify(host: "a.b.corp", port: 22, key: key) == .trusted)
        #expect(hosts.verify(host: "example.net", port: 22, key: key) == .trusted)
        #expect(hosts.verify(host: "exmple.net", port: 22, key: key) == .unknownHost)
        #expect(hosts.verify(host: "bad.example.org", port: 22, key: key) == .unknownHost)
        let evil = String(repeating: "*a", count: 200) + "b ssh-ed25519 AAAA"
        #expect(KnownHosts(text: evil).verify(host: String(repeating: "a", count: 300), port: 22, key: key) == .unknownHost)
    }
}
