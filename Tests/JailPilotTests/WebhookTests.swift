import Foundation
import JailPilot
import Testing

/// The webhook listener's request parser and its checks of a forge's request, without a socket.
@Suite struct HTTPRequestTests {
    func parse(_ text: String) -> HTTPRequest.Parsed { HTTPRequest.parse(Array(text.utf8)) }

    @Test func aRequestWithABodyIsReadWhole() {
        let text = "POST /hook/hello?x=1 HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 5\r\n\r\nhello"
        guard case .complete(let request) = parse(text) else {
            Issue.record("\(parse(text))")
            return
        }
        #expect(request.method == "POST" && request.path == "/hook/hello" && request.body == Array("hello".utf8))
        #expect(request.headers["x-a"] == "1, 2", "repeated fields are joined")
        #expect(parse(String(text.dropLast(2))) == .incomplete, "a body not all there yet")
        #expect(parse("POST / HTTP/1.1\r\nContent-Length: 2") == .incomplete, "a head not all there yet")
    }

    @Test func chunkedBodiesAreDecodedAndBareLineFeedsAccepted() {
        let text = "POST / HTTP/1.1\nTransfer-Encoding: chunked\n\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
        guard case .complete(let request) = parse(text) else {
            Issue.record("\(parse(text))")
            return
        }
        #expect(request.body == Array("hello world".utf8))
        #expect(parse(String(text.dropLast(2))) == .incomplete)
    }

    @Test func whatRFC9112RefusesIsRefused() {
        func status(_ text: String) -> Int? { if case .refused(let s, _) = parse(text) { s } else { nil } }
        #expect(status("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc") == 400, "smuggling")
        #expect(status("POST / HTTP/1.1\r\nContent-Length: -3\r\n\r\nabc") == 400)
        #expect(status("POST / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\nabc") == 400)
        #expect(status("POST / HTTP/1.1\r\nContent-Length: \(HTTPRequest.bodyLimit + 1)\r\n\r\n") == 413)
        #expect(status("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n") == 501)
        #expect(status("POST / HTTP/2\r\n\r\n") == 505)
        #expect(status("POST nope HTTP/1.1\r\n\r\n") == 400)
        #expect(status("POST / HTTP/1.1\r\nBad Name: x\r\n\r\n") == 400)
        #expect(status("POST / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n") == 400, "obs-fold")
        #expect(status("POST / HTTP/1.1\r\nA: b\u{1}\r\n\r\n") == 400)
        #expect(status("POST / HTTP/1.1\r\n" + String(repeating: "A: b\r\n", count: 101) + "\r\n") == 431)
        #expect(status("GET /" + String(repeating: "a", count: HTTPRequest.headLimit + 10)) == 431, "no end of head in sight")
        let big = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n"
        #expect(status(big + String(repeating: "a", count: 10)) == 413, "a chunk past the limit is refused at once")
    }
}

@Suite struct WebhookCheckTests {
    let secret = "s3cret-webhook"

    func app(_ name: String = "hello") throws -> AppConfig {
        let config = try ConfigLoader.parse(
            """
            [agent]
            platform = "linux"
            state_dir = "/tmp/unused"
            [webhook]
            hostnames = ["hooks.localhost"]
            [apps.\(name)]
            repo = "https://forge.example/\(name).git"
            hostnames = ["\(name).localhost"]
            webhook_secret = "/tmp/unused/secret"
            """, file: "test.conf")
        return config.apps[0]
    }

    func request(
        _ headers: [String: String], body: String = #"{"ref":"refs/heads/main"}"#, path: String = "/jailpilot/webhook/hello"
    )
        -> HTTPRequest
    {
        HTTPRequest(method: "POST", target: path, headers: headers, body: Array(body.utf8))
    }

    func verdict(_ request: HTTPRequest) throws -> WebhookCheck.Verdict {
        let app = try app()
        return WebhookCheck.verdict(request, path: "/jailpilot/webhook", apps: ["hello": app]) { _ in Array(secret.utf8) }
    }

    func sign(_ body: String) -> String { SHA256.hmac(key: Array(secret.utf8), message: Array(body.utf8)).hexString }

    @Test func eachForgesSignatureOrTokenIsChecked() throws {
        let body = #"{"ref":"refs/heads/main","after":"0123"}"#
        let github = request(
            ["x-hub-signature-256": "sha256=" + sign(body), "x-github-event": "push", "x-github-delivery": "d1"], body: body)
        #expect(try verdict(github) == .poll(app: "hello", forge: "github", delivery: "d1"))
        let gitea = request(["x-gitea-signature": sign(body), "x-gitea-event": "push"], body: body)
        #expect(try verdict(gitea) == .poll(app: "hello", forge: "gitea", delivery: nil))
        let gitlab = request(["x-gitlab-token": secret, "x-gitlab-event": "Push Hook"], body: body)
        #expect(try verdict(gitlab) == .poll(app: "hello", forge: "gitlab", delivery: nil))
    }

    @Test func wrongMissingOrMalformedRequestsAreRefused() throws {
        let body = #"{"ref":"refs/heads/main"}"#
        func status(_ v: WebhookCheck.Verdict) -> Int? { if case .refused(let s, _, _) = v { s } else { nil } }
        #expect(status(try verdict(request(["x-hub-signature-256": "sha256=" + sign(body + " ")], body: body))) == 401)
        #expect(status(try verdict(request(["x-hub-signature-256": sign(body)], body: body))) == 401, "no sha256= prefix")
        #expect(status(try verdict(request(["x-gitea-signature": "00"], body: body))) == 401)
        #expect(status(try verdict(request(["x-gitlab-token": secret + "x"], body: body))) == 401)
        #expect(status(try verdict(request([:], body: body))) == 401, "unsigned")
        #expect(status(try verdict(request(["x-gitlab-token": secret], body: "not json"))) == 400)
        #expect(status(try verdict(request(["x-gitlab-token": secret], path: "/jailpilot/webhook/other"))) == 404)
        #expect(status(try verdict(request(["x-gitlab-token": secret], path: "/elsewhere"))) == 404)
        var get = request(["x-gitlab-token": secret])
        get.method = "GET"
        #expect(status(try verdict(get)) == 405)
    }

    @Test func pingsOtherEventsAndOtherBranchesPollNothing() throws {
        let other = #"{"ref":"refs/heads/feature"}"#
        guard case .ignored(202, "hello", let reason) = try verdict(request(["x-gitlab-token": secret], body: other)) else {
            Issue.record("a push to another branch must be ignored")
            return
        }
        #expect(reason.contains("refs/heads/feature"))
        #expect(
            try verdict(request(["x-hub-signature-256": "sha256=" + sign("{}"), "x-github-event": "ping"], body: "{}"))
                == .ignored(status: 200, app: "hello", reason: "ping"))
        if case .ignored(202, _, _) = try verdict(request(["x-gitlab-token": secret, "x-gitlab-event": "Issue Hook"])) {
        } else {
            Issue.record("an issue event must be ignored")
        }
    }
}

@Suite struct TriggersTests {
    @Test func aTriggerWakesTheWaiterAndLaterOnesCoalesce() async throws {
        let triggers = Triggers()
        triggers.setApps(["hello"])
        #expect(triggers.trigger("nope", source: "trigger") == .unknownApp)
        #expect(triggers.trigger("hello", source: "webhook") == .queued)
        #expect(triggers.trigger("hello", source: "trigger") == .coalesced, "one is pending already")
        let clock = ContinuousClock()
        let start = clock.now
        #expect(await triggers.wait("hello", for: .seconds(30)) == "webhook", "a pending trigger is taken at once")
        #expect(clock.now - start < .seconds(1))
        #expect(await triggers.wait("hello", for: .milliseconds(20)) == nil, "nothing pending: the timer ends it")
        let waiting = Task { await triggers.wait("hello", for: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(50))
        #expect(triggers.trigger("hello", source: "trigger") == .queued)
        #expect(await waiting.value == "trigger")
    }

    @Test func triggersPollAFailingRemoteNoFasterThanItsBackoff() {
        let triggers = Triggers()
        #expect(triggers.gap(afterFailures: 0) == .seconds(1))
        #expect(triggers.gap(afterFailures: 1) == .seconds(2))
        #expect(triggers.gap(afterFailures: 3) == .seconds(8))
        #expect(triggers.gap(afterFailures: 40) == .seconds(60), "capped, and no overflow")
    }

    @Test func aCancelledWaitEndsAtOnce() async throws {
        let triggers = Triggers()
        triggers.setApps(["hello"])
        let clock = ContinuousClock()
        let start = clock.now
        let waiting = Task { await triggers.wait("hello", for: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(20))
        waiting.cancel()
        #expect(await waiting.value == nil)
        // Far below the 30 s the wait asked for; 15 s of room for a machine busy with the other
        // suites' builds (5.1 s was seen once in a full CI run, 2026-12-08).
        #expect(clock.now - start < .seconds(15))
        #expect(triggers.trigger("hello", source: "trigger") == .queued, "kept for the next wait")
        #expect(await triggers.wait("hello", for: .seconds(30)) == "trigger")
    }

    @Test func aWaitCancelledBeforeItBeginsLeavesThePendingTriggerForTheNextWatcher() async throws {
        let triggers = Triggers()
        triggers.setApps(["hello"])
        #expect(triggers.trigger("hello", source: "webhook") == .queued)
        // A watcher being replaced (reload) whose task is cancelled as its wait begins.
        let leaving = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await triggers.wait("hello", for: .seconds(30))
        }
        #expect(await leaving.value == nil)
        #expect(await triggers.wait("hello", for: .seconds(30)) == "webhook", "the new watcher still polls for it")
    }

    @Test(.timeLimit(.minutes(1))) func aSecondWaitForAnAppEndsTheFirstInsteadOfLeavingItHanging() async throws {
        let triggers = Triggers()
        triggers.setApps(["hello"])
        let first = Task { await triggers.wait("hello", for: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(50))
        let second = Task { await triggers.wait("hello", for: .seconds(30)) }
        let clock = ContinuousClock()
        let start = clock.now
        #expect(await first.value == nil, "the first wait ended when the second took its place")
        #expect(clock.now - start < .seconds(5))
        try await Task.sleep(for: .milliseconds(20))
        #expect(triggers.trigger("hello", source: "trigger") == .queued)
        #expect(await second.value == "trigger")
    }
}

@Suite struct StreamServerTests {
    @Test func aSocketPathTooLongForSunPathIsRefusedNotTruncated() throws {
        let scratch = try Scratch("sock")
        let long = scratch.path + "/" + String(repeating: "d", count: 120) + "/agent.sock"
        try FileIO.makeDirectories((long as NSString).deletingLastPathComponent)
        #expect(StreamServer.Address(long) == nil, "agent.conf's listen is checked too")
        let error = #expect(throws: HTTPError.self) { try StreamServer(.unix(path: long)) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("shorter path"), "\(String(describing: error))")
        let truncated = String(decoding: Array(long.utf8).prefix(107), as: UTF8.self)
        #expect(!FileManager.default.fileExists(atPath: truncated), "nothing was bound under a cut-short name")
        #expect(throws: HTTPError.self) { try StreamServer.exchange(unix: long, [], timeout: .seconds(1)) }
    }

    @Test func aShortSocketPathIsServedAndAnswers() throws {
        let scratch = try Scratch("sock")
        let server = try StreamServer(.unix(path: "\(scratch.path)/a.sock"))
        Thread {
            server.serve { connection in
                let (bytes, _) = connection.read(limit: 64, deadline: .now + .seconds(2)) { $0.contains(0x0A) }
                connection.write(bytes.reversed())
            }
        }.start()
        defer { server.stop() }
        let reply = try StreamServer.exchange(unix: "\(scratch.path)/a.sock", Array("ab\n".utf8), timeout: .seconds(5))
        #expect(reply == Array("\nba".utf8))
    }
}
