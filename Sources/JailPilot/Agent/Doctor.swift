import FoundationEssentials
import Glibc

/// `jailpilot doctor`: every prerequisite of this host and config, each checked now, with the
/// exact fix. The driver and the build confinement check their own; this adds what is shared.
public struct Doctor: Sendable {
    public let runtime: Runtime

    public init(runtime: Runtime) { self.runtime = runtime }

    /// Every check, in the order an operator mends them.
    public func checks() async -> [HostCheck] {
        var checks: [HostCheck] = []
        do {
            checks += try await runtime.jailHost().hostChecks()
        } catch {
            checks.append(HostCheck("jail driver", ok: false, "cannot be set up: \(error)", fix: "see the error"))
        }
        do {
            if let confinement = try runtime.buildConfinement() { checks += await confinement.hostChecks() }
        } catch {
            checks.append(HostCheck("build sandbox", ok: false, "\(error)", fix: "see the error, or set build_sandbox = false"))
        }
        checks += await Toolchains.checks(runtime.config, runner: runtime.runner)
        checks.append(HostSpace.check(runtime.config.agent.stateDir, name: "state_dir space"))
        checks.append(await caddyCheck())
        checks.append(resolverCheck())
        checks += knownHostsChecks()
        checks += verificationChecks()
        checks += reachChecks()
        return checks
    }

    /// The tools and key files the apps' `verify` needs, present now.
    func verificationChecks() -> [HostCheck] {
        let freebsd = runtime.config.agent.platform == .freebsd
        var checks: [HostCheck] = []
        let methods = Set(runtime.config.apps.map(\.verification.method))
        if methods.contains(.ssh) {
            let found = (try? HostProcessRunner.resolve("ssh-keygen", path: SignatureVerifier.path)) != nil
            checks.append(
                HostCheck(
                    "ssh-keygen", ok: found, found ? "verifies SSH-signed commits" : "not found in \(SignatureVerifier.path)",
                    fix: freebsd
                        ? "ssh-keygen is part of FreeBSD's base system: restore /usr/bin/ssh-keygen"
                        : "apt-get install openssh-client"))
        }
        if methods.contains(.gpg) {
            let found = SignatureVerifier.gpgv
            checks.append(
                HostCheck(
                    "gpgv", ok: found != nil,
                    found.map { "\($0) verifies OpenPGP-signed commits" } ?? "not found in \(SignatureVerifier.path)",
                    fix: freebsd ? "pkg install gnupg" : "apt-get install gpgv"))
        }
        for app in runtime.config.apps {
            guard let keys = app.verification.keys else { continue }
            let readable = access(keys, R_OK) == 0
            // Only root may change it, and gpgv must be able to read it (VerificationKeys).
            if readable, let problem = VerificationKeys.problem(app) {
                checks.append(HostCheck("keys of \(app.name)", ok: false, problem.text, fix: problem.fix))
                continue
            }
            checks.append(
                HostCheck(
                    "keys of \(app.name)", ok: readable,
                    readable ? "\(keys) (verify = \(app.verification.method.rawValue))" : "\(keys) cannot be read",
                    fix: app.verification.method == .ssh
                        ? "write \(keys) in git's allowed-signers format: PRINCIPAL namespaces=\"git\" ssh-ed25519 AAAA..."
                        : "gpg --export KEYID > \(keys)"))
        }
        return checks
    }

    /// Caddy's admin API answers, and which Caddy it is (`caddy version` where it is on PATH).
    func caddyCheck() async -> HostCheck {
        let admin = runtime.config.caddy.admin
        guard let endpoint = HTTPEndpoint(admin) else {
            return HostCheck("caddy", ok: false, "admin = \(admin) is not an http:// or unix// address", fix: "fix [caddy] admin")
        }
        let version = try? await runtime.runner.run(Command("caddy", ["version"]), timeout: .seconds(5))
        let named = version.flatMap { $0.succeeded ? $0.stdoutText.split(separator: " ").first.map(String.init) : nil }
        do {
            let response = try await HTTPClient(timeout: .seconds(3)).send("GET", "/config/", to: endpoint)
            return HostCheck(
                "caddy", ok: response.status == 200,
                "admin API at \(admin) answered \(response.status)" + (named.map { ", caddy \($0)" } ?? ""),
                fix: "check Caddy's log; the admin API must accept GET /config/")
        } catch {
            return HostCheck(
                "caddy", ok: false, "no admin API at \(admin) (\(error))",
                fix: runtime.config.agent.platform == .freebsd ? "service caddy start" : "start caddy (systemctl start caddy)")
        }
    }

    /// The route resolver Caddy asks where each app lives answers.
    func resolverCheck() -> HostCheck {
        let resolver = runtime.config.caddy.resolver
        do {
            _ = try RouteResolver.lookup(app: runtime.config.apps.first?.name ?? "jailpilot", at: resolver)
            return HostCheck("route resolver", ok: true, "answers at \(resolver)")
        } catch {
            return HostCheck(
                "route resolver", ok: false, "no answer at \(resolver): \(error)",
                fix: runtime.config.agent.platform == .freebsd
                    ? "sysrc jailpilot_resolver_enable=YES && service jailpilot_resolver start"
                    : "run jailpilot resolver -c \(runtime.config.sourcePath) as a service")
        }
    }

    /// Every SSH remote's host is in known_hosts (the agent never trusts a key on first use).
    func knownHostsChecks() -> [HostCheck] {
        let file = runtime.config.agent.knownHosts
        let known = KnownHosts.load(path: file)
        return runtime.config.apps.compactMap { app in
            guard let (host, port) = Self.sshHost(app.repo) else { return nil }
            let ok = known.verify(host: host, port: port, key: []) != .unknownHost
            let name = port == 22 ? host : "[\(host)]:\(port)"
            return HostCheck(
                "known_hosts for \(app.name)", ok: ok, ok ? "\(name) is in \(file)" : "\(name) is not in \(file)",
                fix: "ssh-keyscan -p \(port) \(host) >> \(file)   (then compare the key with the forge's published fingerprint)")
        }
    }

    /// The host and port of an `ssh://user@host:port/path` or `user@host:path` remote; nil for others.
    static func sshHost(_ url: String) -> (String, Int)? {
        if url.hasPrefix("ssh://") {
            let authority = url.dropFirst("ssh://".count).prefix { $0 != "/" }
            let hostPort = authority.split(separator: "@").last.map(String.init) ?? ""
            let parts = hostPort.split(separator: ":")
            guard let host = parts.first.map(String.init), !host.isEmpty else { return nil }
            return (host, parts.count > 1 ? Int(parts[1]) ?? 22 : 22)
        }
        guard !url.contains("://"), let colon = url.firstIndex(of: ":") else { return nil }
        let host = url[..<colon].split(separator: "@").last.map(String.init) ?? ""
        return host.isEmpty ? nil : (host, 22)
    }
}

/// Test access to the remote parsing `Doctor` uses.
public enum DoctorProbe {
    public static func sshHost(_ url: String) -> String? { Doctor.sshHost(url).map { "\($0.0):\($0.1)" } }
}
