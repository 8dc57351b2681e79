import FoundationEssentials

/// What `jailpilot status` shows for one app.
public struct AppStatus: Sendable, Codable {
    public struct Kept: Sendable, Codable {
        public var sha: String
        public var state: String
        public var address: String?
        /// Its environment's digest ("" for none): two kept releases of one commit differ by it.
        public var env: String = ""
        /// The port it listens on, when it carries one.
        public var port: Int? = nil
    }

    public var app: String
    public var branch: String
    public var live: String?
    public var address: String?
    /// Result of one health request now: "ok", or what went wrong.
    public var health: String?
    /// Where traffic goes now: the address the route resolver answers for the app (what Caddy
    /// sees), or why it did not answer. Nil when not asked.
    public var routed: String?
    /// The branch head last seen by a fetch or poll.
    public var head: String?
    public var pin: String?
    public var hold: String?
    public var kept: [Kept]
    public var lastFailure: String?
    /// For a pinned or held app: how far the branch head is ahead of what is kept.
    public var ahead: Int?
    /// What each release's jail may use ("memory 512MiB, cpu 2, disk 1GiB").
    public var limits: String?
    /// Why the live release was made: push, pin, hold, config changed, manual, rollback.
    public var cause: String?
    /// The live release's environment: its digest and the names it sets (never a value).
    public var env: String?
    /// The app's data directory, its snapshot count and newest snapshot; nil without `data`.
    public var data: String?
    /// With `verify`: whether the live release still verifies against the app's keys now.
    public var verified: String? = nil
    /// The newest commit the gate refused ("3f2c1e0a9b7d refused (unsigned): …"), when it is the branch head.
    public var refused: String? = nil
    /// What the app keeps under state_dir (artifacts, mirror, build caches, logs); nil when not measured.
    public var disk: AppDiskUse? = nil
    /// What the host does not enforce now, for every app ("limits not enforced: …"); `status` fills it.
    public var host: [String]? = nil

    /// Why the live release is live, as the timeline's entry of its going live says (a rollback,
    /// a resume, a flip-back: the release's own cause is why it was made, not why it is live).
    static func liveCause(_ live: Release?, store: StateStore) throws -> String? {
        guard let live else { return nil }
        let entry = try store.timeline(app: live.app, limit: 50).first { $0.outcome == "live" && $0.to == live.sha }
        let cause = entry?.cause ?? live.cause
        return cause.isEmpty ? nil : cause
    }

    /// Builds the status from the store, probing the live release once; `mirror` (the app's
    /// bare mirror) lets it count how far the branch moved past a pin or hold; `layout` has it
    /// measure what the app keeps on disk.
    public static func collect(
        _ app: AppConfig, store: StateStore, mirror: String? = nil, resolver: String? = nil, layout: StateLayout? = nil,
        gate: (any CommitChecking)? = nil
    ) async throws -> AppStatus {
        let releases = try store.releases(app: app.name)
        let live = releases.first { $0.state == .live }
        var health: String?
        if let address = live?.address {
            health = await HealthProbe(app: app).check(address: address, port: live?.port ?? app.port) ?? "ok"
        }
        // The last failure since the live release went live (by time, then by row for one
        // instant): an older one is history (`history`).
        let failure = releases.filter { release in
            release.state == .failed && (live.map { (release.updated, release.id) > ($0.updated, $0.id) } ?? true)
        }
        .max { ($0.updated, $0.id) < ($1.updated, $1.id) }
        .map { "\($0.sha.prefix(12)) at \($0.step ?? "?"): \($0.reason ?? "")" }
        var routed: String?
        if let resolver {
            do {
                routed = try RouteResolver.lookup(app: app.name, at: resolver) ?? "none (the resolver knows no live release)"
            } catch {
                routed = "no answer from the resolver at \(resolver): \(error)"
            }
        }
        let head = try store.head(app: app.name)?.sha
        let hold = try store.holdSHA(app: app.name)
        var ahead: Int?
        if let mirror, let head, let base = (app.pin != nil ? live?.sha : hold) {
            ahead = await Mirror(path: mirror).commitsAhead(of: base, head: head)
        }
        var status = AppStatus(
            app: app.name, branch: app.branch, live: live?.sha, address: live?.address, health: health, routed: routed,
            head: head, pin: app.pin, hold: hold, ahead: ahead,
            kept: releases.filter { [.standby, .retired].contains($0.state) }.map {
                Kept(sha: $0.sha, state: $0.state.rawValue, address: $0.address, env: $0.env, port: $0.port)
            },
            lastFailure: failure, limits: app.limits.summary, cause: try liveCause(live, store: store),
            env: envSummary(app, live: live), data: try dataSummary(app, store: store))
        status.disk = layout.map { AppDiskUse.measure(app.name, layout: $0) }
        if let gate, let live, app.verification.method != .none {
            let keys = app.verification.keys ?? "-"
            do {
                try await gate.verifyLive(app, sha: live.sha)
                status.verified = "\(app.verification.method.rawValue): the live release verifies against \(keys)"
            } catch let refusal as CommitRefusal {
                status.verified =
                    "\(app.verification.method.rawValue): the live release NO LONGER VERIFIES (\(refusal.reason.rawValue): \(refusal.detail)); it keeps running, and nothing new deploys unless signed by a key in \(keys)"
            } catch {
                status.verified = "\(app.verification.method.rawValue): could not check the live release: \(error)"
            }
        }
        if let refusal = try store.refusals(app: app.name).first, refusal.sha == head {
            status.refused = "\(refusal.sha.prefix(12)) \(refusal.reason)"
        }
        return status
    }

    /// "/var/db/hello: 3 snapshots, newest 3f2c1e0a9b7d-20261128T101500Z".
    static func dataSummary(_ app: AppConfig, store: StateStore) throws -> String? {
        guard let data = app.data else { return nil }
        let snapshots = try store.snapshots(app: app.name)
        let count = snapshots.count == 1 ? "1 snapshot" : "\(snapshots.count) snapshots"
        return "\(data): \(count)" + (snapshots.last.map { ", newest \($0.name)" } ?? "")
            + (app.release.isEmpty ? "" : "; release step: \(app.release.joined(separator: " "))")
    }

    /// "a1b2c3d4: LOG_LEVEL DATABASE_URL" for the live release, from the configured names.
    static func envSummary(_ app: AppConfig, live: Release?) -> String? {
        guard let live, !live.env.isEmpty else { return nil }
        return "\(live.env): " + AppEnvironment.names(app).joined(separator: " ")
    }

    init(
        app: String, branch: String, live: String?, address: String?, health: String?, routed: String?, head: String?,
        pin: String?,
        hold: String?, ahead: Int?, kept: [Kept], lastFailure: String?, limits: String? = nil, cause: String? = nil,
        env: String? = nil, data: String? = nil
    ) {
        self.data = data
        self.cause = cause
        self.env = env
        self.app = app
        self.branch = branch
        self.live = live
        self.address = address
        self.health = health
        self.routed = routed
        self.head = head
        self.pin = pin
        self.hold = hold
        self.ahead = ahead
        self.kept = kept
        self.lastFailure = lastFailure
        self.limits = limits
    }

    /// The human-readable block for this app.
    public var text: String {
        var lines = ["\(app)"]
        if let live {
            lines.append("  live      \(live.prefix(12)) at \(address ?? "-")  health: \(health ?? "-")")
        } else {
            lines.append("  live      none")
        }
        if let routed {
            if routed == address {
                lines.append("  routed    to the live release (the resolver answers \(routed))")
            } else if live != nil || IPv4Network.parse(routed) != nil {
                lines.append(
                    "  routed    \(routed): NOT the live release at \(address ?? "-"); the agent rewrites the route table within 2 s, or run `jailpilot routes`"
                )
            }
        }
        if let cause { lines.append("  because   \(cause)") }
        if let env { lines.append("  env       \(env) (values not shown)") }
        if let data { lines.append("  data      \(data)") }
        if let limits { lines.append("  limits    \(limits) per release") }
        if let disk { lines.append("  disk      \(disk.text)") }
        lines.append("  branch    \(branch) at \(head.map { String($0.prefix(12)) } ?? "unknown (not fetched yet)")")
        let moved = { (base: String) -> String in
            guard let ahead, let head else { return "" }
            let noun = ahead == 1 ? "commit" : "commits"
            return ahead == 0
                ? ", \(self.branch) is there too" : ", \(self.branch) is \(ahead) \(noun) ahead at \(head.prefix(12))"
        }
        if let pin {
            lines.append("  pin       pinned at \(live.map { String($0.prefix(12)) } ?? pin)\(moved(pin)) (agent.conf)")
        }
        if let hold {
            lines.append(
                "  hold      held at \(hold.prefix(12))\(moved(hold)) (placed by rollback; `jailpilot resume \(app)` lifts it)")
        }
        // Two kept releases of one commit (another env, args, files or port) differ by their
        // digest, as their names do.
        let keptText =
            kept.isEmpty
            ? "none"
            : kept.map { "\($0.sha.prefix(12))\($0.env.isEmpty ? "" : "_\($0.env)") (\($0.state))" }.joined(separator: ", ")
        lines.append("  kept      \(keptText)")
        if let lastFailure { lines.append("  failure   \(lastFailure)") }
        if let verified { lines.append("  verify    \(verified)") }
        if let refused { lines.append("  refused   \(refused)") }
        return lines.joined(separator: "\n")
    }
}
