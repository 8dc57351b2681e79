import FoundationEssentials

/// What a forge's webhook request asks, checked: its path names an app with a webhook secret,
/// its signature or token matches that secret (GitHub's `X-Hub-Signature-256`, Gitea's and
/// Forgejo's `X-Gitea-Signature`/`X-Forgejo-Signature`, GitLab's `X-Gitlab-Token`, each compared
/// in constant time), and it is a push to the app's branch. The payload is otherwise untrusted:
/// a valid request only makes the agent poll (it asks the remote for the head itself).
public enum WebhookCheck {
    /// The answer to one request.
    public enum Verdict: Sendable, Equatable {
        /// Poll `app` now. `delivery` is the forge's delivery id, if it sent one.
        case poll(app: String, forge: String, delivery: String?)
        /// Answered with `status` and nothing done (a ping, another branch, another event).
        case ignored(status: Int, app: String, reason: String)
        /// Refused with `status` (400, 401, 404, 405, 500).
        case refused(status: Int, app: String?, reason: String)
    }

    /// Checks `request` against `apps` (by name), reading an app's secret with `secret`.
    public static func verdict(
        _ request: HTTPRequest, path prefix: String, apps: [String: AppConfig], secret: (AppConfig) throws -> [UInt8]
    ) -> Verdict {
        let path = request.path
        guard path.hasPrefix(prefix + "/") else { return .refused(status: 404, app: nil, reason: "not a webhook path") }
        let name = String(path.dropFirst(prefix.count + 1))
        guard let app = apps[name], app.webhookSecret != nil else {
            return .refused(status: 404, app: nil, reason: "no app '\(String(name.prefix(64)).escapingControls)' takes webhooks")
        }
        guard request.method == "POST" else { return .refused(status: 405, app: name, reason: "only POST") }
        let key: [UInt8]
        do { key = try secret(app) } catch {
            return .refused(status: 500, app: name, reason: "its webhook secret cannot be read: \(error)")
        }
        guard !key.isEmpty else { return .refused(status: 500, app: name, reason: "its webhook secret file is empty") }
        let headers = request.headers
        let forge: String
        if let signature = headers["x-hub-signature-256"] {
            guard signature.hasPrefix("sha256="), matches(hex: signature.dropFirst(7), key: key, body: request.body) else {
                return .refused(status: 401, app: name, reason: "a wrong X-Hub-Signature-256")
            }
            forge = headers["x-gitea-event"] != nil ? "gitea" : headers["x-forgejo-event"] != nil ? "forgejo" : "github"
        } else if let signature = headers["x-gitea-signature"] ?? headers["x-forgejo-signature"] {
            guard matches(hex: Substring(signature), key: key, body: request.body) else {
                return .refused(status: 401, app: name, reason: "a wrong X-Gitea-Signature")
            }
            forge = headers["x-forgejo-signature"] != nil ? "forgejo" : "gitea"
        } else if let token = headers["x-gitlab-token"] {
            guard constantTimeEquals(Array(token.utf8), key) else {
                return .refused(status: 401, app: name, reason: "a wrong X-Gitlab-Token")
            }
            forge = "gitlab"
        } else {
            return .refused(
                status: 401, app: name, reason: "unsigned (no X-Hub-Signature-256, X-Gitea-Signature or X-Gitlab-Token)")
        }
        let event =
            headers["x-github-event"] ?? headers["x-gitea-event"] ?? headers["x-forgejo-event"] ?? headers["x-gitlab-event"]
        if event == "ping" { return .ignored(status: 200, app: name, reason: "ping") }
        if let event, !["push", "Push Hook"].contains(event) {
            return .ignored(status: 202, app: name, reason: "a \(String(event.prefix(40)).escapingControls) event, not a push")
        }
        guard let payload = try? JSONDecoder().decode(PushPayload.self, from: Data(request.body)) else {
            return .refused(status: 400, app: name, reason: "the body is not a JSON push event")
        }
        if let ref = payload.ref, ref != "refs/heads/\(app.branch)" {
            return .ignored(
                status: 202, app: name, reason: "a push to \(String(ref.prefix(80)).escapingControls), not \(app.branch)")
        }
        let delivery =
            headers["x-github-delivery"] ?? headers["x-gitea-delivery"] ?? headers["x-forgejo-delivery"]
            ?? headers["x-gitlab-event-uuid"]
        return .poll(app: name, forge: forge, delivery: delivery.map { String($0.prefix(80)) })
    }

    /// Whether `hex` is HMAC-SHA256(key, body), compared in constant time.
    static func matches(hex: Substring, key: [UInt8], body: [UInt8]) -> Bool {
        constantTimeEquals(Array(hex.lowercased().utf8), Array(SHA256.hmac(key: key, message: body).hexString.utf8))
    }

    /// The one field of a push event that is read: which branch it moved.
    struct PushPayload: Decodable {
        var ref: String?
    }
}
