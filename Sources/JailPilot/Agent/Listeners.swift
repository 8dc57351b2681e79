import FoundationEssentials
import Synchronization

/// The agent's two doors for "poll now": the control socket `state_dir/agent.sock` (root only,
/// `jailpilot trigger APP`) and, with `[webhook]`, a loopback HTTP listener Caddy forwards forge
/// webhooks to. Each runs on a thread of its own; `stop()` ends both.
public final class Listeners: Sendable {
    let triggers: Triggers
    let log: EventLog
    private let state = Mutex(State())
    private let servers = Mutex<[StreamServer]>([])

    struct State {
        var apps: [String: AppConfig] = [:]
        var webhookPath = ""
        /// Delivery ids seen, newest last (a replayed request repeats its id).
        var deliveries: [String] = []
        /// Refusals logged in the current minute, and when it began (a flood is one line a minute).
        var refusalsLogged = 0
        var minute = ContinuousClock.now
        var refusalsSuppressed = 0
    }

    /// Delivery ids remembered, for refusing a replayed request.
    static let rememberedDeliveries = 1024
    /// How long one connection may take to send its request.
    static let readDeadline: Duration = .seconds(5)
    /// Webhook requests read at once. Caddy streams a body as the client sends it, so a slow
    /// client holds one for up to the read deadline (and the lingering close's 2 s): enough
    /// that a few of them do not shut out a forge, few enough to bound the threads. Past it a
    /// connection is closed at once (Caddy answers 502) and the apps are still polled.
    static let webhookConnections = 16

    public init(triggers: Triggers, log: EventLog) {
        self.triggers = triggers
        self.log = log
    }

    /// The apps and webhook path in force (agent.conf's, at start and on reload).
    public func update(_ config: AgentConfig) {
        triggers.setApps(Set(config.apps.map(\.name)))
        state.withLock { state in
            state.apps = Dictionary(uniqueKeysWithValues: config.apps.map { ($0.name, $0) })
            state.webhookPath = config.webhook?.path ?? ""
        }
    }

    /// Stops both listeners (the agent's drain).
    public func stop() { servers.withLock { $0 }.forEach { $0.stop() } }

    /// The control socket's path under `stateDir`.
    public static func controlSocket(stateDir: String) -> String { "\(stateDir)/agent.sock" }

    /// Binds the control socket and, with `webhook`, the webhook listener, and serves them on
    /// threads of their own. A listener that cannot bind is logged; the agent goes on without it.
    public func start(stateDir: String, webhook: WebhookSettings?) {
        let control = Self.controlSocket(stateDir: stateDir)
        serve("control", address: .unix(path: control)) { [self] connection in answerControl(connection) }
        if let webhook, let address = StreamServer.Address(webhook.listen) {
            serve("webhook", address: address, concurrency: Self.webhookConnections) { [self] connection in
                answerWebhook(connection)
            }
        }
    }

    private func serve(
        _ what: String, address: StreamServer.Address, concurrency: Int = 4,
        _ handle: @escaping @Sendable (StreamServer.Connection) -> Void
    ) {
        let server: StreamServer
        do { server = try StreamServer(address, concurrency: concurrency) } catch {
            log.emit(app: "-", "\(what).failed", [("address", "\(address)"), ("error", "\(error)")])
            return
        }
        servers.withLock { $0.append(server) }
        let started = detachThread { server.serve(handle) }
        log.emit(app: "-", started ? "\(what).listening" : "\(what).failed", [("address", "\(address)")])
    }

    /// One line, `trigger APP`, answered with one line: `queued`, `coalesced` or an error.
    func answerControl(_ connection: StreamServer.Connection) {
        let (bytes, _) = connection.read(limit: 512, deadline: .now + .seconds(2)) { $0.contains(0x0A) }
        let line = String(decoding: bytes.prefix { $0 != 0x0A }, as: UTF8.self).trimmedWhitespace
        let words = line.split(separator: " ")
        guard words.count == 2, words[0] == "trigger" else {
            connection.write(Array("error: expected 'trigger APP'\n".utf8))
            return
        }
        let app = String(words[1])
        let outcome = triggers.trigger(app, source: "trigger")
        if outcome == .unknownApp {
            let known = state.withLock { $0.apps.keys.sorted().joined(separator: ", ") }
            connection.write(Array("error: no app '\(app.escapingControls)' in agent.conf (apps: \(known))\n".utf8))
            return
        }
        log.emit(app: app, "trigger.received", [("by", "trigger"), ("outcome", outcome.rawValue)])
        connection.write(Array("\(outcome.rawValue)\n".utf8))
    }

    /// One HTTP request from Caddy: checked (WebhookCheck), answered, and at most one poll.
    func answerWebhook(_ connection: StreamServer.Connection) {
        // The reader refuses a request past its limits before this much has arrived; each read
        // costs it only the new bytes.
        var reader = HTTPRequest.Reader()
        let limit = reader.limits.wire
        let (_, timedOut) = connection.read(limit: limit, deadline: .now + Self.readDeadline) { bytes in
            reader.read(bytes) != .incomplete
        }
        let parsed = reader.parsed
        let (status, body) = respond(to: parsed, timedOut: timedOut)
        let reason =
            [
                200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
                405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict", 413: "Content Too Large",
                431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented",
                505: "HTTP Version Not Supported",
            ][status] ?? "Error"
        let text = body + "\n"
        connection.write(
            Array(
                "HTTP/1.1 \(status) \(reason)\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(text.utf8.count)\r\nConnection: close\r\n\r\n\(text)"
                    .utf8))
        // A refused body may still be arriving: let the answer reach Caddy before the close.
        connection.lingeringClose(limit: 2 * HTTPRequest.bodyLimit, deadline: .now + .seconds(2))
    }

    /// The status and text for a parsed request, with its one log line.
    func respond(to parsed: HTTPRequest.Parsed, timedOut: Bool) -> (Int, String) {
        let request: HTTPRequest
        switch parsed {
        case .incomplete:
            return refuse(
                timedOut ? 408 : 400, app: nil,
                timedOut ? "the request did not arrive within \(DurationText.format(Self.readDeadline))" : "an incomplete request"
            )
        case .refused(let status, let reason):
            return refuse(status, app: nil, reason)
        case .complete(let complete):
            request = complete
        }
        let (apps, path) = state.withLock { ($0.apps, $0.webhookPath) }
        let verdict = WebhookCheck.verdict(request, path: path, apps: apps) { app in
            let text = try FileIO.readText(app.webhookSecret ?? "")
            return Array((text.split(separator: "\n").first.map(String.init) ?? "").trimmedWhitespace.utf8)
        }
        switch verdict {
        case .refused(let status, let app, let reason):
            return refuse(status, app: app, reason)
        case .ignored(let status, let app, let reason):
            log.emit(app: app, "webhook.ignored", [("reason", reason)])
            return (status, "ignored: \(reason)")
        case .poll(let app, let forge, let delivery):
            // A replay is known by what the signature covers, the body: a forge's delivery id is
            // a header anyone replaying the request can change.
            let digest = SHA256.hash(Array(app.utf8) + [0] + request.body).hexString
            let seen = state.withLock { state -> Bool in
                if state.deliveries.contains(digest) { return true }
                state.deliveries.append(digest)
                if state.deliveries.count > Self.rememberedDeliveries { state.deliveries.removeFirst() }
                return false
            }
            if seen { return refuse(409, app: app, "this signed body was already received (a replay or a redelivery)") }
            let outcome = triggers.trigger(app, source: "webhook")
            log.emit(
                app: app, "trigger.received",
                [("by", "webhook"), ("forge", forge), ("outcome", outcome.rawValue)] + (delivery.map { [("delivery", $0)] } ?? [])
            )
            return (202, "\(outcome.rawValue): \(app) is polled now")
        }
    }

    /// Logs a refused request (a flood: ten lines a minute, then one saying how many were not)
    /// and returns its answer.
    func refuse(_ status: Int, app: String?, _ reason: String) -> (Int, String) {
        let (logIt, suppressed) = state.withLock { state -> (Bool, Int) in
            if ContinuousClock.now - state.minute > .seconds(60) {
                defer { state.refusalsSuppressed = 0 }
                state.minute = .now
                state.refusalsLogged = 0
                return (true, state.refusalsSuppressed)
            }
            state.refusalsLogged += 1
            if state.refusalsLogged > 10 { state.refusalsSuppressed += 1 }
            return (state.refusalsLogged <= 10, 0)
        }
        if logIt {
            log.emit(
                app: app ?? "-", "webhook.refused",
                [("status", "\(status)"), ("reason", reason)] + (suppressed > 0 ? [("not_logged_before", "\(suppressed)")] : []))
        }
        // What went wrong on this side (a secret file that cannot be read) is for the log:
        // the answer goes to the internet, and a path there says nothing a forge can fix.
        return (
            status, status >= 500 ? "refused: the agent could not check this request (its log says why)" : "refused: \(reason)"
        )
    }
}
