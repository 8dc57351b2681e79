import FoundationEssentials
import JailPilot

/// Feeds one input to a parser of outside input, discarding the result: what scripts/fuzz runs
/// under libFuzzer and what the regression tests replay from fuzz/regressions/. A parser that
/// traps, overflows its stack or hangs on any input is a bug. Test code, never shipped: it traps
/// on purpose when two parsers disagree. scripts/fuzz compiles it into the library's module.
public enum FuzzInput {
    /// Parses `bytes` with the parser `target` names (toml, dns, http, known_hosts, webhook).
    public static func run(_ bytes: [UInt8], target: String, resolver: RouteResolver) {
        switch target {
        case "toml":
            _ = try? TOMLDocument(parsingBytes: bytes)
        case "dns":
            _ = resolver.answer(bytes)
        case "http":
            let endpoint = HTTPEndpoint.tcp(host: "127.0.0.1", port: 1)
            _ = try? HTTPClient.parse(Data(bytes), endpoint: endpoint, atEOF: false)
            _ = try? HTTPClient.parse(Data(bytes), endpoint: endpoint, atEOF: true)
        case "known_hosts":
            let hosts = KnownHosts(text: String(decoding: bytes, as: UTF8.self))
            _ = hosts.verify(host: "git.example.org", port: 22, key: Array(bytes.prefix(48)))
            _ = hosts.verify(host: "git.example.org", port: 2222, key: Array(bytes.suffix(48)))
        case "webhook":
            // The listener's request parser, then the forge checks on what it accepted.
            let whole = HTTPRequest.parse(bytes)
            // The listener reads it in pieces (HTTPRequest.Reader): it must see the same request.
            var reader = HTTPRequest.Reader()
            var seen = HTTPRequest.Parsed.incomplete
            for end in [bytes.count / 3, bytes.count / 2, bytes.count] where seen == .incomplete {
                seen = reader.read(Array(bytes[..<end]))
            }
            if seen != whole { fatalError("HTTPRequest.Reader saw \(seen), parse \(whole)") }
            guard case .complete(let request) = whole else { return }
            guard let app = webhookApp else { return }
            _ = WebhookCheck.verdict(request, path: "/jailpilot/webhook", apps: ["hello": app]) { _ in Array("key".utf8) }
        default:
            break
        }
    }

    /// An app that takes webhooks, as agent.conf declares one.
    static let webhookApp: AppConfig? = try? ConfigLoader.parse(
        """
        [agent]
        platform = "linux"
        state_dir = "/tmp/jailpilot-fuzz"
        [webhook]
        hostnames = ["hooks.localhost"]
        [apps.hello]
        repo = "https://forge.example/hello.git"
        hostnames = ["hello.localhost"]
        webhook_secret = "/dev/null"
        """, file: "fuzz.conf"
    ).apps.first
}
