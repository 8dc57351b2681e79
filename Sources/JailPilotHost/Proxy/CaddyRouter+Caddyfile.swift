import JailPilotCore

extension CaddyRouter {
    /// jailpilot's routes as Caddyfile site blocks, for an operator's Caddyfile to `import`: a
    /// `service caddy reload` then keeps serving the apps with no gap, and the probe answers
    /// the same digest as the JSON routes, so the agent leaves such a config alone. Hostnames,
    /// ports and addresses were validated at config load (no spaces, braces or quotes).
    public func caddyfile(for apps: [AppConfig]) -> String {
        var out = "# Written by jailpilot from agent.conf; import it into your Caddyfile. Do not edit.\n"
        if let webhook {
            for listen in settings.listen {
                let port = Self.port(listen)
                let addresses = webhook.hostnames.map { name in
                    settings.automaticHTTPS ? (port == "443" ? name : "\(name):\(port)") : "http://\(name):\(port)"
                }
                out += """
                    \(addresses.joined(separator: ", ")) {
                    \thandle \(webhook.path)/* {
                    \t\trequest_body {
                    \t\t\tmax_size \(Self.webhookBodyCap)
                    \t\t}
                    \t\treverse_proxy \(webhook.listen)
                    \t}
                    }

                    """
            }
        }
        for app in apps {
            for listen in settings.listen {
                let host = String(
                    listen.split(separator: ":", omittingEmptySubsequences: false).dropLast().joined(separator: ":"))
                let port = Self.port(listen)
                let addresses = app.hostnames.map { name in
                    settings.automaticHTTPS ? (port == "443" ? name : "\(name):\(port)") : "http://\(name):\(port)"
                }
                out += "\(addresses.joined(separator: ", ")) {\n"
                if !host.isEmpty { out += "\tbind \(host)\n" }
                out += """
                    \treverse_proxy {
                    \t\tdynamic a \(RouteResolver.name(for: app.name)) \(app.port) {
                    \t\t\trefresh \(DurationText.format(settings.refresh))
                    \t\t\tresolvers udp/\(settings.resolver)
                    \t\t}
                    \t\ttransport http {
                    \t\t\tkeepalive \(DurationText.format(Self.upstreamIdle))
                    \t\t\tkeepalive_idle_conns_per_host \(Self.upstreamIdleConnections)
                    \t\t}

                    """
                let (wait, interval) =
                    app.strategy == .stopFirst
                    ? (Self.swapWait(app), Self.swapInterval) : (Self.flipRetry, Self.flipRetryInterval)
                out += "\t\tlb_try_duration \(DurationText.format(wait))\n\t\tlb_try_interval \(DurationText.format(interval))\n"
                out += "\t}\n}\n"
            }
        }
        if let probe = settings.probe {
            let host = probe.split(separator: ":").first.map(String.init) ?? "127.0.0.1"
            out += "http://\(probe) {\n\tbind \(host)\n\trespond \"\(token(for: apps))\" 200\n}\n"
        }
        return out
    }

    /// Keeps `[caddy] caddyfile` (when set) equal to `caddyfile(for:)`; true when it changed.
    @discardableResult
    public func writeCaddyfile(for apps: [AppConfig]) throws -> Bool {
        guard let path = settings.caddyfile else { return false }
        let text = caddyfile(for: apps)
        if (try? FileIO.readText(path)) == text { return false }
        try FileIO.makeDirectories(FileIO.parent(path))
        try FileIO.replace(path, text: text, mode: 0o644)
        return true
    }
}
