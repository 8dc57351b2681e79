import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// Notifications on in-memory drivers with a real receiver on 127.0.0.1 (a Python one, written
/// as the README tells users to): signed and fresh, queued by the deploy and delivered by the
/// agent's pass, kept and retried while the receiver is down, and free of secrets.
@Suite(.serialized, .enabled(if: have("python3"), "needs python3"))
struct NotificationTests {
    typealias W = MemoryWorld
    static let receiver = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/notify-receiver.py").path

    /// A world notifying a receiver on a free port; `body` gets the world, the receiver's output
    /// file (one JSON body a line) and the path whose existence makes it answer 503.
    func with(
        events: String = "", env: String = "", tls: Bool = false, _ body: (MemoryWorld, String, String) async throws -> Void
    ) async throws {
        let scratch = try Scratch("notify")
        let key = try scratch.write("notify.key", "notify-key-for-tests\n")
        let port = freePort()
        let out = "\(scratch.path)/received.jsonl"
        let down = "\(scratch.path)/down"
        var argv = ["python3", Self.receiver, "\(port)", key, out, down]
        var extra = ""
        if tls {
            // A receiver with its own certificate for 127.0.0.1, trusted through ca_file.
            let made = try await HostProcessRunner().run(
                Command(
                    "openssl",
                    [
                        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", "\(scratch.path)/key.pem",
                        "-out", "\(scratch.path)/cert.pem",
                    ]), timeout: .seconds(30))
            try #require(made.succeeded, "\(made.stderrText)")
            argv += ["\(scratch.path)/cert.pem", "\(scratch.path)/key.pem"]
            extra = "ca_file = \"\(scratch.path)/cert.pem\"\n"
        }
        let server = try await Background(argv, port: port)
        defer { server.stop() }
        let scheme = tls ? "https" : "http"
        let world = try MemoryWorld(
            apps: [("hello", env)],
            extra:
                "[[agent.notify]]\nurl = \"\(scheme)://127.0.0.1:\(port)/hooks/jailpilot?token=abc\"\nsecret_file = \"\(key)\"\n\(extra)\(events)"
        )
        defer { world.tearDown() }
        try await body(world, out, down)
    }

    func received(_ out: String) -> [[String: Any]] {
        ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    @Test func aDeployIsNotifiedSignedWithItsCausePhasesAndTimelineEntry() async throws {
        try await with { world, out, _ in
            try await world.push(1)
            let notifier = Notifier(runtime: world.runtime)
            #expect(await notifier.deliverDue() == 1, "due at once: no time passes between the deploy and this pass")
            let got = received(out)
            #expect(got.count == 1, "the receiver accepted it: its signature and timestamp verified")
            let first = try #require(got.first)
            #expect(first["event"] as? String == "release.live" && first["app"] as? String == "hello")
            #expect(first["sha"] as? String == W.sha(1), "the full commit id")
            #expect(first["cause"] as? String == "push" && first["actor"] as? String == "agent")
            #expect((first["phases"] as? [String: Double])?["health"] != nil, "\(first)")
            #expect(notifier.undelivered().values.reduce(0, +) == 0)
            let labels = Array(notifier.undelivered().keys)
            #expect(
                labels.allSatisfy { !$0.contains("token") }, "a receiver's path and query never reach metrics or logs: \(labels)")
        }
    }

    @Test func aReceiverThatIsDownGetsEverythingOnceItIsBackAndDeploysDoNotWait() async throws {
        try await with { world, out, down in
            _ = FileManager.default.createFile(atPath: down, contents: nil)
            try await world.push(1)
            world.health.set(W.sha(2), .never)
            await #expect(throws: DeployError.self) { try await world.push(2) }
            #expect(
                !FileManager.default.fileExists(atPath: out + ".hits"), "deploys only queue: none of them called the receiver")
            let notifier = Notifier(runtime: world.runtime)
            #expect(await notifier.deliverDue() == 0)
            #expect(await notifier.deliverDue() == 0, "backing off: nothing is due again yet")
            #expect(notifier.undelivered().values.reduce(0, +) == 3, "live, failed and quarantined wait")
            func agentEvents() throws -> [Event] { try world.runtime.store.events(app: "-", limit: 100) }
            #expect(try agentEvents().filter { $0.name == "notify.failed" }.count == 1, "the outage is said once")
            #expect(try !agentEvents().contains { EventLog.format($0).contains("token=abc") }, "logged without its path")
            // The queue is in the store: another process (a restarted agent) sees it all.
            let restarted = try world.reopened(apps: [("hello", "")])
            #expect(Notifier(runtime: restarted.runtime).undelivered().values.reduce(0, +) == 3)

            // It comes back: everything is delivered, in order, and that is said once.
            try FileManager.default.removeItem(atPath: down)
            world.clock.advance(.seconds(2))
            #expect(await notifier.deliverDue() == 3)
            let events = received(out).compactMap { $0["event"] as? String }
            #expect(events == ["release.live", "release.quarantined", "release.failed"], "in the order they happened: \(events)")
            let failed = try #require(received(out).first { $0["event"] as? String == "release.failed" })
            #expect((failed["detail"] as? String)?.hasPrefix("health: ") == true, "\(failed)")
            #expect(try agentEvents().contains { $0.name == "notify.recovered" })
        }
    }

    @Test(.enabled(if: getuid() == 0, "a secrets file must be root's"))
    func onlyTheEventsAskedForAreSentAndSecretsAreCutFromLogLines() async throws {
        let secrets = try Scratch("notify-secrets")
        let file = try secrets.write("hello.env", "DB_PASSWORD=hunter2-very-secret\n")
        chmod(file, 0o600)
        try await with(events: "events = [\"release.failed\"]\nlog_tail = true", env: "env_files = [\"\(file)\"]") {
            world, out, _ in
            try await world.push(1)
            world.health.set(W.sha(2), .never)
            let name = ReleaseName(
                app: "hello", sha: W.sha(2), env: (try AppEnvironment.resolve(world.app(), layout: world.runtime.layout)).digest
            ).text
            try FileIO.makeDirectories(world.runtime.layout.logs("hello"))
            try FileIO.replace(
                "\(world.runtime.layout.logs("hello"))/\(name).log",
                text: "starting\nconnecting with hunter2-very-secret\npanic: no db\n")
            await #expect(throws: DeployError.self) { try await world.push(2) }
            #expect(
                await Notifier(runtime: world.runtime).deliverDue() == 1,
                "release.live and release.quarantined were not asked for")
            let failed = try #require(received(out).first)
            let tail = failed["log_tail"] as? [String] ?? []
            #expect(tail.contains("connecting with [redacted]"), "\(tail)")
            #expect(!(try String(contentsOfFile: out, encoding: .utf8)).contains("hunter2"))
        }
    }

    /// Values an app is given and prints in other forms than they are written in agent.conf.
    static let pem = """
        -----BEGIN PRIVATE KEY-----
        MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3+XQmXa
        Ff3p8bYvL3+oYcQYYYs8kYh/0J9wT1Cwz1WJv8XQ2T0nQ3e2VJ3Xk3t0o5nC8Xg1
        -----END PRIVATE KEY-----

        """
    static let quoted = #"p"a\ss'w0rd\x"#
    static let urlish = "a b/c+d=é&f"
    static let token = "s3cr3t-t0ken-value"

    /// How the app prints them: the key as it is and inside a JSON document (with `\/`, as
    /// PHP writes it), the password as Go's %q, the URL-ish value form- and path-encoded (in
    /// lower case), the token in a Basic authorization and in base64.
    static var printed: [String] {
        let json = "\"" + pem.replacing("\n", with: "\\n").replacing("/", with: "\\/") + "\""
        return [
            json, #""p\"a\\ss'w0rd\\x""#, "a+b%2Fc%2Bd%3D%C3%A9%26f", "a%20b%2fc%2bd%3d%c3%a9%26f",
            Data("user:\(token)".utf8).base64EncodedString(), Data(token.utf8).base64EncodedString(),
        ]
    }

    /// agent.conf's `env` with those values (TOML basic strings).
    static var hostileEnv: String {
        func toml(_ value: String) -> String {
            "\"" + value.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"").replacing("\n", with: "\\n") + "\""
        }
        return "env = { TLS_KEY = \(toml(pem)), DB_PASSWORD = \(toml(quoted)), QUERY = \(toml(urlish)), TOKEN = \(toml(token)) }"
    }

    @Test func secretsAreCutFromTheLogTailInEveryFormTheAppPrintsThem() async throws {
        try await with(events: "events = [\"release.failed\"]\nlog_tail = true", env: Self.hostileEnv) { world, out, _ in
            try await world.push(1)
            world.health.set(W.sha(2), .never)
            let name = ReleaseName(
                app: "hello", sha: W.sha(2), env: try AppEnvironment.resolve(world.app(), layout: world.runtime.layout).digest)
            let printed = Self.printed
            var log = "starting\nloaded key:\n\(Self.pem)config: {\"tls_key\":\(printed[0])}\n"
            log += "auth failed for password \(printed[1])\nGET /login?pw=\(printed[2])\n"
            log += "dial postgres://app:\(printed[3])@db/app\nAuthorization: Basic \(printed[4])\ntoken_b64=\(printed[5])\n"
            log += "panic: no db\n"
            try FileIO.makeDirectories(world.runtime.layout.logs("hello"))
            try FileIO.replace("\(world.runtime.layout.logs("hello"))/\(name.text).log", text: log)
            await #expect(throws: DeployError.self) { try await world.push(2) }
            #expect(await Notifier(runtime: world.runtime).deliverDue() == 1)
            let failed = try #require(received(out).first)
            let tail = failed["log_tail"] as? [String] ?? []
            let sent = tail.joined(separator: "\n")
            #expect(tail.contains("panic: no db") && tail.contains("auth failed for password \"[redacted]\""), "\(tail)")
            #expect(tail.contains("Authorization: Basic [redacted]") && tail.contains("GET /login?pw=[redacted]"), "\(tail)")
            let pemLines = Self.pem.split(separator: "\n").map(String.init)
            for secret in [Self.pem, Self.quoted, Self.urlish, Self.token] + pemLines + printed {
                #expect(!sent.contains(secret), "sent: \(secret)\n\(sent)")
            }
            let body = try String(contentsOfFile: out, encoding: .utf8)
            for secret in [Self.token, Self.urlish] + pemLines.dropFirst().dropLast() {
                #expect(!body.contains(secret), "in the body as sent: \(secret)")
            }
        }
    }

    /// Regression: the tail was read from the whole file, up to 16 MiB: a longer log (a chatty
    /// app that ran for days) sent no lines at all.
    @Test func aLogLongerThanSixteenMebibytesStillSendsItsTail() async throws {
        try await with(events: "events = [\"release.failed\"]\nlog_tail = true", env: "env = { LEVEL = \"debug\" }") {
            world, out, _ in
            try await world.push(1)
            world.health.set(W.sha(2), .never)
            let name = ReleaseName(
                app: "hello", sha: W.sha(2), env: try AppEnvironment.resolve(world.app(), layout: world.runtime.layout).digest)
            try FileIO.makeDirectories(world.runtime.layout.logs("hello"))
            let line = String(repeating: "x", count: 1023) + "\n"
            let log = String(repeating: line, count: 17 * 1024) + "panic: no db\n"
            try FileIO.replace("\(world.runtime.layout.logs("hello"))/\(name.text).log", text: log)
            await #expect(throws: DeployError.self) { try await world.push(2) }
            #expect(await Notifier(runtime: world.runtime).deliverDue() == 1)
            let failed = try #require(received(out).first)
            let tail = failed["log_tail"] as? [String] ?? []
            #expect(tail.last == "panic: no db", "\(tail.suffix(2))")
            #expect(tail.count == 20)
        }
    }

    @Test func aReceiverGetsNoLogLinesUnlessItAsksForThem() async throws {
        try await with(events: "events = [\"release.failed\"]", env: Self.hostileEnv) { world, out, _ in
            try await world.push(1)
            world.health.set(W.sha(2), .never)
            let name = ReleaseName(
                app: "hello", sha: W.sha(2), env: try AppEnvironment.resolve(world.app(), layout: world.runtime.layout).digest)
            try FileIO.makeDirectories(world.runtime.layout.logs("hello"))
            try FileIO.replace("\(world.runtime.layout.logs("hello"))/\(name.text).log", text: "starting\npanic: no db\n")
            await #expect(throws: DeployError.self) { try await world.push(2) }
            #expect(await Notifier(runtime: world.runtime).deliverDue() == 1)
            let failed = try #require(received(out).first)
            #expect(failed["event"] as? String == "release.failed")
            #expect(failed["log_tail"] == nil, "log_tail is off unless asked for: \(failed)")
        }
    }

    @Test(.enabled(if: have("curl") && have("openssl"), "needs curl and openssl"))
    func anHTTPSReceiverIsReachedThroughCurlWithItsOwnCA() async throws {
        try await with(tls: true) { world, out, _ in
            try await world.push(1)
            #expect(await Notifier(runtime: world.runtime).deliverDue() == 1)
            #expect(received(out).first?["event"] as? String == "release.live", "signed, over TLS, verified by the receiver")
            let staging = (try? FileManager.default.contentsOfDirectory(atPath: "\(world.root)/state/staging")) ?? []
            #expect(staging.allSatisfy { !$0.hasPrefix("notify-") }, "curl's config with the URL is gone: \(staging)")
        }
    }

    // Regression (#32): a delivered notification the store could not take off the queue was
    // sent again at once, up to 50 times a pass, and nothing said why.
    @Test func aDeliveredNotificationTheQueueCannotLetGoOfIsSaidAndNotRepeatedWithinAPass() async throws {
        try await with { world, out, _ in
            try await world.push(1)
            try world.runtime.store.failEvery("DELETE", on: "outbox")
            let notifier = Notifier(runtime: world.runtime)
            #expect(await notifier.deliverDue() == 1)
            #expect(received(out).count == 1, "sent once in the pass, not again and again")
            _ = await notifier.deliverDue()
            let said = try world.runtime.store.events(app: "-", limit: 100).filter { $0.name == "notify.outbox_failed" }
            #expect(said.count == 1, "said once")
            #expect(said.first.map(EventLog.format)?.contains("sent again") == true, "\(said.map(EventLog.format))")
        }
    }

    @Test func aReceiverGetsItsEventsInOrderWhileTheOldestWaitsOutItsBackoff() async throws {
        try await with { world, out, down in
            _ = FileManager.default.createFile(atPath: down, contents: nil)
            try await world.push(1)
            world.health.set(W.sha(2), .never)
            await #expect(throws: DeployError.self) { try await world.push(2) }
            let notifier = Notifier(runtime: world.runtime)
            #expect(await notifier.deliverDue() == 0, "down: the oldest fails and is deferred")
            // Back before the oldest one's retry is due: nothing behind it may overtake it.
            try FileManager.default.removeItem(atPath: down)
            #expect(await notifier.deliverDue() == 0, "the newer ones wait behind the deferred oldest")
            #expect(received(out).isEmpty)
            world.clock.advance(.seconds(2))
            #expect(await notifier.deliverDue() == 3)
            let events = received(out).compactMap { $0["event"] as? String }
            #expect(events == ["release.live", "release.quarantined", "release.failed"], "\(events)")
        }
    }

    @Test func everyNotificationHasItsOwnDeliveryIDEvenAfterTheQueueEmptied() async throws {
        try await with { world, out, _ in
            let notifier = Notifier(runtime: world.runtime)
            try await world.push(1)
            #expect(await notifier.deliverDue() == 1)
            // The queue is empty again: a reused row id would give the next one the same id.
            try await world.push(2)
            #expect(await notifier.deliverDue() == 1)
            let ids = received(out).compactMap { $0["id"] as? String }
            #expect(ids.count == 2 && Set(ids).count == 2, "receivers that drop duplicates keep both: \(ids)")
            #expect(ids.allSatisfy { $0.count == 32 && $0.allSatisfy(\.isHexDigit) }, "\(ids)")
        }
    }

    @Test func aNotificationDescribesTheTransitionItEndedNotALaterOneOfTheSameCommit() async throws {
        try await with { world, out, _ in
            try await world.push(1)
            world.health.set(W.sha(2), .never)
            await #expect(throws: DeployError.self) { try await world.push(2) }
            // The operator fixes it and deploys the same commit before anything was delivered.
            world.health.set(W.sha(2), .healthy)
            _ = try await world.deployer.deploy(world.app(), sha: W.sha(2), cause: "manual")
            #expect(await Notifier(runtime: world.runtime).deliverDue() == 4)
            let got = received(out)
            let failed = try #require(got.first { $0["event"] as? String == "release.failed" })
            #expect(failed["outcome"] as? String == "failed" && failed["cause"] as? String == "push", "\(failed)")
            let live = got.filter { $0["event"] as? String == "release.live" }.last
            #expect(live?["outcome"] as? String == "live" && live?["cause"] as? String == "manual", "\(String(describing: live))")
        }
    }
}

/// `log_tail` in `[[agent.notify]]`: only where the lines cannot be read on the way.
@Suite struct NotifyLogTailConfigTests {
    func parse(_ url: String, logTail: Bool = true) throws -> AgentConfig {
        try ConfigLoader.parse(
            """
            [agent]
            platform = "linux"
            state_dir = "/tmp/unused"
            [[agent.notify]]
            url = "\(url)"
            secret_file = "/tmp/unused/notify.key"
            log_tail = \(logTail)
            [apps.hello]
            repo = "https://forge.example/hello.git"
            hostnames = ["hello.localhost"]
            """, file: "test.conf")
    }

    @Test func logLinesGoOnlyToHTTPSOrThisHost() throws {
        for url in [
            "https://hooks.example.org/j", "http://127.0.0.1:9000/j", "http://127.9.8.7/j", "http://localhost:9/j",
            "http://[::1]:9/j",
        ] {
            #expect(try parse(url).agent.notify.first?.logTail == true, "\(url)")
        }
        for url in ["http://hooks.example.org/j", "http://10.0.0.1:9000/j", "http://127.0.0.1.example.org/j", "http://[::2]:9/j"]
        {
            let error = #expect(throws: ConfigError.self) { try parse(url) }
            #expect(
                error?.description.contains("only to an https:// receiver or one on this host") == true,
                "\(url): \(String(describing: error))")
        }
        #expect(
            try parse("http://hooks.example.org/j", logTail: false).agent.notify.first?.logTail == false,
            "without log lines: allowed")
    }
}
