import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// "Poll now" end to end, with a poll interval long enough that only a trigger can explain a
/// deploy: `jailpilot trigger` over the agent's socket, and forge webhooks through the real Caddy
/// (a right signature, a wrong one, none, an oversized body, a replay, another branch).
@Suite(.serialized, .enabled(if: canDeploy, "needs root, caddy, go, btrfs-progs and iproute2"))
struct TriggerTests {
    static let secret = "webhook-secret-for-tests"

    /// One HTTP/1.1 request through Caddy's front port, written as bytes; the status and body.
    static func send(_ port: Int, _ request: [UInt8]) throws -> (status: Int, body: String) {
        let fd = try connectLoopback(port)
        defer { close(fd) }
        var limit = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }  // Caddy may answer and close before an oversized body is all sent
            sent += n
        }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
            if let response = try? HTTPClient.parse(data, endpoint: .tcp(host: "127.0.0.1", port: port)) {
                return (response.status, response.text)
            }
        }
        let response = try HTTPClient.parse(data, endpoint: .tcp(host: "127.0.0.1", port: port), atEOF: true)
        return (response?.status ?? 0, response?.text ?? "")
    }

    static func webhook(_ headers: [String: String], body: [UInt8], path: String = "/jailpilot/webhook/hello") -> [UInt8] {
        var head = "POST \(path) HTTP/1.1\r\nHost: hooks.localhost\r\nContent-Type: application/json\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        if headers["Content-Length"] == nil { head += "Content-Length: \(body.count)\r\n" }
        return Array((head + "\r\n").utf8) + body
    }

    static func sign(_ body: [UInt8]) -> String {
        "sha256=" + SHA256.hmac(key: Array(secret.utf8), message: body).hexString
    }

    @Test func aTriggerOrASignedWebhookDeploysAtOnceAndEverythingElseIsRefused() async throws {
        let keys = try Scratch("webhook")
        let secretFile = try keys.write("hello.webhook", Self.secret + "\n")
        let listen = "127.0.0.1:\(freePort())"
        // The agent's notifications go to a receiver on 127.0.0.1 that checks their signature.
        let notifyKey = try keys.write("notify.key", "notify-key\n")
        let receiverPort = freePort()
        let received = "\(keys.path)/received.jsonl"
        let receiver = try await Background(
            ["python3", NotificationTests.receiver, "\(receiverPort)", notifyKey, received, "\(keys.path)/down"],
            port: receiverPort)
        defer { receiver.stop() }
        try await E2EWorld.with(
            appExtra: "webhook_secret = \"\(secretFile)\"",
            extra: """
                [webhook]
                listen = "\(listen)"
                hostnames = ["hooks.localhost"]
                [[agent.notify]]
                url = "http://127.0.0.1:\(receiverPort)/jailpilot"
                secret_file = "\(notifyKey)"
                events = ["release.live"]
                """
        ) { world in
            // Polls a minute apart: only a trigger explains a deploy within seconds.
            var conf = world.conf
            conf.pollInterval = "60s"
            try FileIO.replace(world.configPath, text: conf.text)
            let v1 = try await world.repo.commitHello("one")
            let agent = try Agent(configPath: world.configPath)
            let running = Task { await agent.run() }
            defer { running.cancel() }
            try await world.expectLive(v1)

            // jailpilot trigger, over the control socket.
            let v2 = try await world.repo.commitHello("two")
            try await Task.sleep(for: .milliseconds(500))
            #expect(try world.runtime.store.live(app: "hello")?.sha == v1, "no poll without a trigger")
            let cli = try await HostProcessRunner().run(
                Command(CLITests.binary, ["trigger", "-c", world.configPath, "hello"]), timeout: .seconds(30))
            #expect(cli.succeeded && cli.stdoutText.contains("polls it now"), "\(cli.stdoutText)\(cli.stderrText)")
            try await world.expectLive(v2, within: .seconds(30))
            let unknown = try await HostProcessRunner().run(
                Command(CLITests.binary, ["trigger", "-c", world.configPath, "nope"]), timeout: .seconds(30))
            #expect(!unknown.succeeded && unknown.stderrText.contains("no app 'nope'"), "\(unknown.stderrText)")

            // Webhooks through Caddy: everything but a right signature is refused, and nothing polls.
            let v3 = try await world.repo.commitHello("three")
            let body = Array(#"{"ref":"refs/heads/main","after":"\#(v3)"}"#.utf8)
            let port = world.frontPort
            let unsigned = try Self.send(port, Self.webhook(["X-GitHub-Event": "push"], body: body))
            #expect(unsigned.status == 401, "\(unsigned)")
            let wrong = try Self.send(
                port, Self.webhook(["X-GitHub-Event": "push", "X-Hub-Signature-256": Self.sign(body + [0x20])], body: body))
            #expect(wrong.status == 401, "\(wrong)")
            let big = [UInt8](repeating: 0x20, count: HTTPRequest.bodyLimit + 1)
            let oversized = try Self.send(
                port, Self.webhook(["X-GitHub-Event": "push", "X-Hub-Signature-256": Self.sign(big)], body: big))
            #expect(oversized.status == 413, "\(oversized)")
            let elsewhere = Array(#"{"ref":"refs/heads/feature"}"#.utf8)
            let other = try Self.send(
                port, Self.webhook(["X-GitHub-Event": "push", "X-Hub-Signature-256": Self.sign(elsewhere)], body: elsewhere))
            #expect(other.status == 202 && other.body.contains("ignored"), "\(other)")
            try await Task.sleep(for: .milliseconds(500))
            #expect(try world.runtime.store.live(app: "hello")?.sha == v2, "nothing refused or ignored made a poll")

            let signed = Self.webhook(
                ["X-GitHub-Event": "push", "X-GitHub-Delivery": "delivery-1", "X-Hub-Signature-256": Self.sign(body)], body: body)
            let accepted = try Self.send(port, signed)
            #expect(accepted.status == 202, "\(accepted)")
            try await world.expectLive(v3, within: .seconds(30))
            // The same request again, later (captured and replayed): refused, nothing polled.
            let replayed = try Self.send(port, signed)
            #expect(replayed.status == 409, "\(replayed)")
            // Replayed with another delivery id (a header the signature does not cover): still one.
            let renamed = try Self.send(
                port,
                Self.webhook(
                    ["X-GitHub-Event": "push", "X-GitHub-Delivery": "delivery-2", "X-Hub-Signature-256": Self.sign(body)],
                    body: body))
            #expect(renamed.status == 409, "\(renamed)")

            let log = world.agentLogTail(lines: 400)
            #expect(log.contains("event=trigger.received by=trigger"), "\(log)")
            #expect(log.contains("event=trigger.received by=webhook forge=github outcome=queued delivery=delivery-1"), "\(log)")
            for status in ["401", "413", "409"] {
                #expect(log.contains("event=webhook.refused status=\(status)"), "no refusal logged with \(status)")
            }
            #expect(!log.contains(Self.secret), "the secret is never logged")
            // The agent delivered a signed notification of each release, with its commit's subject.
            let webhookDeploy = await eventually(.seconds(10)) {
                ((try? String(contentsOfFile: received, encoding: .utf8)) ?? "").contains("\"sha\":\"\(v3)\"")
            }
            #expect(webhookDeploy, "no notification of \(v3.prefix(12)): \(world.agentLogTail())")
            let lines = ((try? String(contentsOfFile: received, encoding: .utf8)) ?? "").split(separator: "\n")
            let last = try #require(
                lines.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
            #expect(last["actor"] as? String == "webhook" && last["cause"] as? String == "push", "\(last)")
            #expect(last["subject"] as? String == "three", "the commit's subject, from the mirror: \(last)")
            await agent.stop()
            await running.value
        }
    }
}
