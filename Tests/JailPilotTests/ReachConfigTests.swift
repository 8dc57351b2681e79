import Foundation
import JailPilot
import Testing

/// `[webhook]`, `webhook_secret` and `[[agent.notify]]` as agent.conf declares them.
@Suite struct ReachConfigTests {
    func parse(_ extra: String, app: String = "") throws -> AgentConfig {
        try ConfigLoader.parse(
            ConfigTests.good.replacingOccurrences(of: "keep = 2", with: "keep = 2\n\(app)") + "\n" + extra, file: "agent.conf")
    }

    func problems(_ extra: String, app: String = "") -> [String] {
        do {
            _ = try parse(extra, app: app)
            return []
        } catch let error as ConfigError {
            return error.issues.map(\.description)
        } catch {
            return ["\(error)"]
        }
    }

    @Test func aWebhookAndReceiversAreRead() throws {
        let config = try parse(
            """
            [webhook]
            hostnames = ["deploy.example.org"]
            [[agent.notify]]
            url = "https://hooks.example.org/x"
            secret_file = "/etc/jailpilot/notify.key"
            [[agent.notify]]
            url = "http://127.0.0.1:9000/"
            secret_file = "/etc/jailpilot/other.key"
            events = ["release.failed"]
            """, app: "webhook_secret = \"/etc/jailpilot/hello.webhook\"")
        #expect(
            config.webhook
                == WebhookSettings(listen: "127.0.0.1:9079", hostnames: ["deploy.example.org"], path: "/jailpilot/webhook"))
        #expect(config.app("hello")?.webhookSecret == "/etc/jailpilot/hello.webhook")
        #expect(config.agent.notify.map(\.url) == ["https://hooks.example.org/x", "http://127.0.0.1:9000/"])
        #expect(config.agent.notify[0].events == Set(NotifyTarget.allEvents))
        #expect(config.agent.notify[1].events == ["release.failed"])
    }

    @Test func mistakesAreSaidWithTheirKeyAndLine() {
        #expect(problems("", app: "webhook_secret = \"/x\"").first?.contains("needs a [webhook] table") == true)
        let open = problems("[webhook]\nlisten = \"0.0.0.0:9079\"\nhostnames = [\"d.example.org\"]")
        #expect(open.first?.contains("must be a loopback address") == true, "\(open)")
        #expect(problems("[webhook]\nlisten = \"127.0.0.1:9079\"").first?.contains("needs the hostname") == true)
        let bad = problems(
            """
            [[agent.notify]]
            url = "ftp://x"
            events = ["release.lived"]
            """)
        #expect(bad.contains { $0.contains("agent.notify[0].url") && $0.contains("http:// or https://") }, "\(bad)")
        #expect(bad.contains { $0.contains("secret_file") && $0.contains("is missing") }, "\(bad)")
        #expect(bad.contains { $0.contains("'release.lived' is not an event") }, "\(bad)")
        #expect(bad.allSatisfy { $0.hasPrefix("agent.conf:") }, "each with its line: \(bad)")
    }

    @Test func aReceiverURLWithCredentialsIsRefusedAndNeverLogged() {
        let withUser = problems("[[agent.notify]]\nurl = \"https://ops:hunter2@hooks.example.org/x\"\nsecret_file = \"/k\"")
        #expect(withUser.contains { $0.contains("agent.notify[0].url") && $0.contains("user part") }, "\(withUser)")
        #expect(withUser.allSatisfy { !$0.contains("hunter2") }, "the refusal does not repeat the password: \(withUser)")
        #expect(problems("[[agent.notify]]\nurl = \"http:///x\"\nsecret_file = \"/k\"").contains { $0.contains("names no host") })
        // However a URL got into a queue (an older config), its label names the host alone.
        #expect(Notifier.label("https://ops:hunter2@hooks.example.org/x?t=1") == "https://hooks.example.org/…")
        #expect(Notifier.label("http://127.0.0.1:9000") == "http://127.0.0.1:9000")
        #expect(Notifier.label("http://127.0.0.1:9000?token=abc") == "http://127.0.0.1:9000/…")
    }
}
