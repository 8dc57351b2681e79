import FoundationEssentials
import Glibc

extension Notifier {
    /// The JSON of one notification for `target`: the event, the commit's author and subject,
    /// the timeline entry it ended (cause, who, phases, outcome), and for a failure, when
    /// `target` asks for it over a confidential channel (NotifyTarget.logTail), the last lines of
    /// the release's log. The app's secret values are cut from the detail, the fields and the
    /// lines (SecretRedactor); lines whose secrets cannot be read to cut them are not sent.
    func body(for item: OutboxItem, to target: NotifyTarget) async -> String {
        let line = Logfmt.parse(item.event)
        var fields: [String: String] = [:]
        var event = "", app = "", shortSHA = "", time = ""
        for (key, value) in line {
            switch key {
            case "event": event = value
            case "app": app = value
            case "sha": shortSHA = value
            case "ts": time = value
            default: fields[key] = value
            }
        }
        let config = runtime.config.app(app)
        // The values of the app's variables and secrets, in every form it may print them.
        let environment = config.flatMap { try? AppEnvironment.resolve($0, layout: runtime.layout) }
        let redactor = SecretRedactor(values: environment?.values.map(\.value) ?? [])
        var body: [String: JSONValue] = [
            "id": .string(item.delivery), "event": .string(event), "app": .string(app), "time": .string(time),
            "host": .string(Self.hostName), "fields": .object(fields.mapValues { .string(redactor.redact($0)) }),
        ]
        let entry = item.transition > 0 ? (try? runtime.store.transition(id: item.transition)) ?? nil : nil
        let sha =
            entry?.to ?? (try? runtime.store.releases(app: app).first { !shortSHA.isEmpty && $0.sha.hasPrefix(shortSHA) })??.sha
        body["sha"] = .string(sha ?? shortSHA)
        if let entry {
            body["cause"] = .string(entry.cause)
            body["actor"] = .string(entry.actor)
            body["outcome"] = .string(entry.outcome)
            body["from"] = entry.from.map(JSONValue.string) ?? .null
            body["detail"] = .string(redactor.redact(entry.detail))
            body["phases"] = .object(
                Dictionary(entry.phases.map { ($0.name, JSONValue.double($0.seconds)) }, uniquingKeysWith: { $1 }))
        }
        if let sha, Names.isFullSHA(sha), !app.isEmpty,
            let summary = await Mirror(path: runtime.layout.mirror(app)).summary(of: sha)
        {
            body["author"] = .string(summary.author)
            body["subject"] = .string(summary.subject)
        }
        if ["release.failed", "release.reverted", "release.quarantined"].contains(event), let config, target.logTail,
            target.isConfidential
        {
            if environment != nil {
                body["log_tail"] = .array(logTail(config, sha: shortSHA, redactor: redactor).map(JSONValue.string))
            } else {
                body["log_tail_omitted"] = .string("the app's variables and secrets files could not be read to cut them out")
            }
        }
        let data = (try? JSONValue.object(body).encoded()) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The last 20 lines of the newest kept log of `app` at `sha` (any environment), each at
    /// most 400 bytes, with `redactor`'s values replaced by `[redacted]`. The values are cut
    /// from the last 64 KiB as a whole before it is split, so a value over several lines goes
    /// too; the line the window cuts in two is dropped (a secret in it would be cut in two).
    func logTail(_ app: AppConfig, sha: String, redactor: SecretRedactor) -> [String] {
        let dir = runtime.layout.logs(app.name)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { file in
            guard file.hasSuffix(".log"), let name = ReleaseName(parsing: String(file.dropLast(4))) else { return false }
            return name.app == app.name && !sha.isEmpty && name.sha12.hasPrefix(sha.prefix(12))
        }
        let window = 64 * 1024
        guard let newest = names.max(by: { (FileIO.stamp("\(dir)/\($0)") ?? "") < (FileIO.stamp("\(dir)/\($1)") ?? "") }),
            let bytes = try? FileIO.readBytes("\(dir)/\(newest)", lastBytes: window + 1)
        else { return [] }
        // One byte more than the window says whether the file goes on before it.
        var tail = bytes.suffix(window)
        if bytes.count > window { tail = tail.firstIndex(of: 0x0A).map { tail[($0 + 1)...] } ?? [] }
        let text = redactor.redact(String(decoding: tail, as: UTF8.self))
        return text.split(separator: "\n").suffix(20).map { String($0.prefix(400)) }
    }

    /// The signature header's value for `body` sent at unix time `time`.
    public static func signature(_ body: String, key: [UInt8], time: Int) -> String {
        "t=\(time),v1=" + SHA256.hmac(key: key, message: Array("\(time).\(body)".utf8)).hexString
    }

    /// POSTs `body` to `target`: http:// with the built-in client, https:// with curl(1) (its
    /// URL and headers in a 0600 config file, never in its arguments). Throws unless 2xx.
    func send(_ body: String, item: OutboxItem, to target: NotifyTarget) async throws {
        let text = try FileIO.readText(target.secretFile)
        let key = Array((text.split(separator: "\n").first.map(String.init) ?? "").trimmedWhitespace.utf8)
        guard !key.isEmpty else { throw NotifyError(message: "the secret file \(target.secretFile) is empty") }
        // Wall-clock time, whatever clock the release engine runs on: receivers compare it with theirs.
        let time = Int(Date().timeIntervalSince1970)
        let event = (Logfmt.parse(item.event).first { $0.0 == "event" }?.1) ?? "event"
        let headers = [
            ("X-Jailpilot-Signature", Self.signature(body, key: key, time: time)), ("X-Jailpilot-Event", event),
            ("X-Jailpilot-Delivery", item.delivery),
        ]
        if target.url.hasPrefix("http://") {
            let rest = target.url.dropFirst("http://".count)
            let authority = rest.prefix { $0 != "/" }
            let path = rest.dropFirst(authority.count)
            let withPort = authority.contains(":") ? String(authority) : "\(authority):80"
            guard let endpoint = HTTPEndpoint("http://\(withPort)") else {
                throw NotifyError(message: "cannot reach \(Self.label(target.url))")
            }
            let response = try await HTTPClient(timeout: Self.timeout).send(
                "POST", path.isEmpty ? "/" : String(path), to: endpoint, body: Data(body.utf8), host: String(authority),
                headers: headers)
            guard (200..<300).contains(response.status) else {
                throw NotifyError(message: "answered \(response.status): \(response.text.prefix(200))")
            }
            return
        }
        try await sendWithCurl(body, headers: headers, url: target.url, caFile: target.caFile)
    }

    private func sendWithCurl(_ body: String, headers: [(String, String)], url: String, caFile: String?) async throws {
        let dir = "\(runtime.layout.root)/staging/notify-\(UInt64.random(in: 0...UInt64.max))"
        try FileIO.makeDirectories(dir, mode: 0o700)
        defer { try? FileIO.removeTree(dir) }
        try FileIO.replace("\(dir)/body", text: body, mode: 0o600)
        // curl's config syntax: a quoted value with \" and \\ escaped (curl(1), "-K, --config").
        func quoted(_ text: String) -> String {
            "\"" + text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
        }
        var config = "url = \(quoted(url))\nrequest = \"POST\"\ndata-binary = \"@\(dir)/body\"\n"
        config += "header = \"Content-Type: application/json\"\n"
        if let caFile { config += "cacert = \(quoted(caFile))\n" }
        // https only, and no redirects: the body and its signature go to this receiver alone.
        config += "proto = \"=https\"\n"
        for (name, value) in headers { config += "header = \(quoted("\(name): \(value)"))\n" }
        try FileIO.replace("\(dir)/curl.conf", text: config, mode: 0o600)
        let command = Command(
            "curl",
            [
                // First: root's ~/.curlrc is not read (it could add a proxy, or -k).
                "--disable", "--silent", "--show-error", "--fail", "--max-time", "\(Int(Self.timeout.seconds))", "--output",
                "/dev/null",
                "--config", "\(dir)/curl.conf",
            ])
        let result = try await runner.run(command, stdout: .capture, stderr: .capture, timeout: Self.timeout + .seconds(5))
        guard result.succeeded else {
            throw NotifyError(message: "curl: \(result.stderrText.trimmedWhitespace.prefix(200))")
        }
    }

    /// This host's name, for receivers that hear from several.
    static let hostName: String = {
        var buffer = [UInt8](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
    }()
}

/// A notification that could not be delivered this time.
struct NotifyError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
