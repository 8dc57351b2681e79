/// `[webhook]`, an app's `webhook_secret` and `[[agent.notify]]`.
extension ConfigLoader {
    static func readWebhook(_ t: TableReader) -> WebhookSettings? {
        t.rejectUnknown(known: ["listen", "hostnames", "path"])
        let listen = t.string("listen", example: "\"127.0.0.1:9079\"") ?? "127.0.0.1:9079"
        guard case .loopback = StreamServerAddress(listen) else {
            t.issues.add(
                t.key("listen"), "'\(listen)' must be a loopback address such as \"127.0.0.1:9079\" (Caddy forwards to it)")
            return nil
        }
        let hostnames = t.strings("hostnames", example: "[\"deploy.example.org\"]") ?? []
        if hostnames.isEmpty {
            t.issues.add(t.key("hostnames"), "needs the hostname(s) forges send webhooks to, e.g. [\"deploy.example.org\"]")
        }
        for host in hostnames where Names.hostnameProblem(host) != nil {
            t.issues.add(t.key("hostnames"), "'\(host)' \(Names.hostnameProblem(host) ?? "")")
        }
        let path = t.string("path", example: "\"/jailpilot/webhook\"") ?? "/jailpilot/webhook"
        if !path.hasPrefix("/") || path.hasSuffix("/") || path.contains("//")
            || !path.utf8.allSatisfy({ HTTPRequest.isTokenByte($0) || $0 == UInt8(ascii: "/") })
        {
            t.issues.add(t.key("path"), "'\(path)' must be a path such as \"/jailpilot/webhook\" (no trailing /, no spaces)")
        }
        return WebhookSettings(listen: listen, hostnames: hostnames, path: path)
    }

    static func readNotify(_ t: TableReader) -> [NotifyTarget] {
        guard let entries = t.tables("notify", example: "[[agent.notify]] with url = \"https://…\"") else { return [] }
        return entries.compactMap { entry in
            entry.rejectUnknown(known: ["url", "secret_file", "events", "ca_file", "log_tail"])
            let before = entry.issues.issues.count
            let url = entry.string("url", example: "\"https://hooks.example.org/jailpilot\"") ?? ""
            if !(url.hasPrefix("http://") || url.hasPrefix("https://")) || url.contains(where: { $0.isWhitespace }) {
                entry.issues.add(entry.key("url"), "'\(url)' must be an http:// or https:// URL")
            } else if Self.authority(of: url).contains("@") {
                // The logs and metrics name a receiver by its host; a user:password part would
                // end up beside it. The body is signed with secret_file's key instead.
                entry.issues.add(
                    entry.key("url"),
                    "has a user part (user@host): credentials do not go in the URL; receivers check the signature made with secret_file's key"
                )
            } else if Self.authority(of: url).isEmpty {
                entry.issues.add(entry.key("url"), "'\(url)' names no host")
            }
            let secret = entry.string("secret_file", example: "\"/usr/local/etc/jailpilot/notify.key\"") ?? ""
            if secret.isEmpty {
                entry.issues.add(entry.key("secret_file"), "is missing: notifications are signed with the key in that file")
            } else {
                checkPath(entry, "secret_file", secret)
            }
            let events = entry.strings("events", example: "[\"release.live\", \"release.failed\"]") ?? NotifyTarget.allEvents
            for event in events where !NotifyTarget.allEvents.contains(event) {
                entry.issues.add(
                    entry.key("events"), "'\(event)' is not an event; known: \(NotifyTarget.allEvents.joined(separator: ", "))")
            }
            let ca = entry.string("ca_file", example: "\"/usr/local/etc/jailpilot/receiver-ca.pem\"")
            if let ca { checkPath(entry, "ca_file", ca) }
            var target = NotifyTarget(url: url, secretFile: secret, events: Set(events))
            target.caFile = ca
            target.logTail = entry.bool("log_tail") ?? false
            if target.logTail && !target.isConfidential {
                // Log lines are what an app printed: a secret in a form no redaction knows
                // (README, "What a notification may contain") must not cross a network in clear.
                entry.issues.add(
                    entry.key("log_tail"),
                    "sends the last lines of a failed release's log, which may hold what the app printed of its secrets: "
                        + "only to an https:// receiver or one on this host (http://127.0.0.1, http://[::1], http://localhost); "
                        + "'\(NotifyTarget.label(url))' is neither")
            }
            guard entry.issues.issues.count == before else { return nil }
            return target
        }
    }

    /// The host[:port] part of an http(s) URL (with any user part).
    static func authority(of url: String) -> Substring {
        let rest = url.drop { $0 != "/" }.dropFirst(2)
        return rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
    }
}
