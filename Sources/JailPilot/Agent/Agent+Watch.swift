import FoundationEssentials

extension Agent {
    /// Starts (or restarts) the watcher of `app`.
    func startWatcher(_ app: AppConfig, pinChanged: Bool) {
        watchers[app.name]?.task.cancel()
        let made = Result { try deployer() }
        if case .failure(let error) = made {
            runtime.log.emit(
                app: app.name, "watcher.no_driver",
                [
                    ("error", "\(error)"),
                    ("note", "polls go on; nothing deploys until the driver can be set up (jailpilot doctor)"),
                ])
        }
        let context = WatchContext(
            app: app, runtime: runtime, deployer: try? made.get(), metrics: metrics, interval: config.agent.pollInterval,
            pinChanged: pinChanged, triggers: triggers, heads: seams.heads)
        watchers[app.name] = (app, Task { await context.run() })
    }
}

/// One app's poll → converge loop, with jitter and capped exponential backoff on failures.
struct WatchContext: Sendable {
    let app: AppConfig
    let runtime: Runtime
    let deployer: Deployer?
    let metrics: Metrics
    let interval: Duration
    /// The pin just changed: try it even if quarantined.
    let pinChanged: Bool
    /// Where "poll now" comes from (`jailpilot trigger`, webhooks).
    let triggers: Triggers
    /// Where the branch heads are read (the remote, through libgit2).
    let heads: any BranchHeads

    var log: EventLog { runtime.log }
    var store: StateStore { runtime.store }

    func run() async {
        // Counters exist from the start at 0: Prometheus' increase() sees a first failure only
        // against an earlier sample.
        for result in ["ok", "failed", "refused"] {
            await metrics.count("jailpilot_deploys_total", [("app", app.name), ("result", result)], by: 0)
        }
        var failures = 0
        var skipped: String?
        var forced = pinChanged ? app.pin : nil
        if let deployer {
            do {
                try await inChildTask { [app] in try await deployer.resumeProbation(app) }
            } catch is CancellationError {
                return
            } catch {
                log.emit(app: app.name, "deploy.failed", [("error", "\(error)")])
            }
        }
        // The keys and live release this watcher last checked against each other (nil: not yet);
        // a check that could not run (a tool missing) is tried again at the next poll.
        var checked: String?
        var unverified = false
        var lastTriggered: ContinuousClock.Instant?
        // Who asked for this poll (a trigger, a webhook), for the timeline; nil: the interval.
        var wokenBy: String?
        while !Task.isCancelled {
            do {
                if let deployer, app.verification.method != .none {
                    let now = CommitGate.stamp(app) + " live=\((try? store.live(app: app.name))??.sha ?? "-")"
                    let wasUnverified = unverified
                    if checked != now,
                        let verdict = try await inChildTask({ [self] in
                            await reverifyLive(deployer, wasUnverified: wasUnverified)
                        })
                    {
                        checked = now
                        unverified = verdict
                    }
                }
                let (head, ring) = try await heads.heads(of: app)
                await metrics.count("jailpilot_polls_total", [("app", app.name), ("result", "ok")])
                if failures > 0 { log.emit(app: app.name, sha: head, "poll.recovered", [("after_failures", "\(failures)")]) }
                failures = 0
                await metrics.set("jailpilot_poll_failures_consecutive", [("app", app.name)], 0)
                await noteHead(head)
                let (wanted, source) = try want(head: head)
                // Read at every poll: a changed variable or secrets file is a new release.
                let env = try AppEnvironment.resolve(app, layout: runtime.layout)
                let live = try store.live(app: app.name)
                let isLive = live.map { $0.sha.hasPrefix(wanted) && $0.env == env.digest } ?? false
                if isLive {
                    skipped = nil
                } else if let reason = try store.quarantineReason(
                    app: app.name, prefix: wanted, env: env.digest,
                    gate: CommitGate.stamp(app, live: live?.sha, mark: try store.mark(app: app.name)?.sha, ring: ring)),
                    forced != wanted
                {
                    if skipped != wanted {
                        log.emit(
                            app: app.name, sha: wanted, "release.skipped",
                            [
                                ("reason", "quarantined: \(reason)"),
                                ("retry", "after a new commit, a new pin or jailpilot deploy --sha"),
                            ])
                        skipped = wanted
                    }
                } else {
                    forced = nil
                    // In a child task: its frames are freed with it (the watcher lives on).
                    let actor = wokenBy ?? "agent"
                    try await inChildTask { [self] in try await deploy(wanted, source: source, actor: actor) }
                }
            } catch is CancellationError {
                break
            } catch {
                failures += 1
                await metrics.count("jailpilot_polls_total", [("app", app.name), ("result", "failed")])
                await metrics.set("jailpilot_poll_failures_consecutive", [("app", app.name)], Double(failures))
                if failures == 1 || failures.nonzeroBitCount == 1 {
                    log.emit(
                        app: app.name, "poll.failed",
                        [("failures", "\(failures)"), ("error", "\(error)"), ("note", "the live release keeps serving")])
                }
            }
            wokenBy = nil
            let delay = Self.delay(interval, failures: failures)
            if let by = await triggers.wait(app.name, for: delay), !Task.isCancelled {
                wokenBy = by
                // At most one triggered poll per gap: a flood of triggers is a poll a second, and
                // a remote that keeps failing is not hammered by them either.
                let gap = failures == 0 ? triggers.minimumGap : max(triggers.gap(afterFailures: failures), delay)
                if let last = lastTriggered, ContinuousClock.now - last < gap {
                    try? await Task.sleep(for: gap - (ContinuousClock.now - last))
                }
                lastTriggered = .now
                log.emit(app: app.name, "poll.triggered", [("by", by)])
            }
        }
    }

    /// At start and whenever the app's key file changes: does the live release still verify?
    /// One that no longer does keeps running (a key rotation is never an outage); it is said
    /// loudly (log, metric, `status`), and nothing new deploys unless it verifies. Returns
    /// whether the live release is unverified now, nil when the check could not be made.
    func reverifyLive(_ deployer: Deployer, wasUnverified: Bool) async -> Bool? {
        guard let live = try? store.live(app: app.name) else {
            if wasUnverified { await metrics.set("jailpilot_live_unverified", [("app", app.name)], 0) }
            return false
        }
        do {
            try await deployer.source.gate.verifyLive(app, sha: live.sha)
            if wasUnverified {
                log.emit(app: app.name, sha: live.sha, "release.reverified")
                deployer.note(app.name, from: live.sha, to: live.sha, cause: "key change", outcome: "verified")
            }
            await metrics.set("jailpilot_live_unverified", [("app", app.name)], 0)
            return false
        } catch let refusal as CommitRefusal {
            log.emit(
                app: app.name, sha: live.sha, "release.unverified",
                [
                    ("reason", refusal.reason.rawValue), ("detail", refusal.detail),
                    ("note", "the live release keeps running; nothing new deploys unless it verifies"),
                ])
            await metrics.set("jailpilot_live_unverified", [("app", app.name)], 1)
            // Once per key change: a restart checks again, and says so in the log, but the
            // timeline already has the entry.
            let last = (try? store.timeline(app: app.name, limit: 100))?.first { $0.to == live.sha }
            if !wasUnverified && last?.outcome != "unverified" {
                deployer.note(
                    app.name, from: live.sha, to: live.sha, cause: "key change", outcome: "unverified",
                    detail: "\(refusal.reason.rawValue): \(refusal.detail); it keeps running")
            }
            return true
        } catch {
            log.emitOnce(
                key: "release.verify_failed \(app.name) \(live.sha)",
                Event(
                    app: app.name, sha: live.sha, name: "release.verify_failed",
                    fields: [("error", "\(error)"), ("retry", "at every poll"), ("fix", "jailpilot doctor")]))
            return nil
        }
    }

    /// The pin, else a hold, else the head; with where it came from.
    func want(head: String) throws -> (String, String) {
        if let pin = app.pin { return (pin, "pin") }
        if let hold = try store.holdSHA(app: app.name) { return (hold, "hold") }
        return (head, "branch")
    }

    func deploy(_ wanted: String, source: String, actor: String) async throws {
        guard var deployer else {
            log.emitOnce(
                key: "deploy.no_driver \(app.name) \(wanted)",
                Event(
                    app: app.name, sha: wanted, name: "deploy.failed",
                    fields: [
                        ("error", "the jail driver could not be set up (see watcher.no_driver); restart the agent once fixed")
                    ]))
            return
        }
        deployer.actor = actor
        log.emit(app: app.name, sha: wanted, "release.detected", [("source", source)])
        let clock = ContinuousClock()
        let start = clock.now
        do {
            let outcome = try await deployer.deploy(app, sha: wanted, cause: source == "branch" ? "push" : source)
            await metrics.count("jailpilot_deploys_total", [("app", app.name), ("result", "ok")])
            await metrics.set("jailpilot_deploy_seconds", [("app", app.name)], (clock.now - start).seconds)
            await metrics.describeReleases([app], store: store)
            _ = outcome
        } catch let error as CancellationError {
            throw error
        } catch {
            if Task.isCancelled { throw CancellationError() }
            // A refused commit (unsigned, not promoted, a rewind) is not a failed deploy: the
            // DeployFailed alert is for what broke; a refusal is in jailpilot_quarantined_info.
            let result = error is CommitRefusal ? "refused" : "failed"
            await metrics.count("jailpilot_deploys_total", [("app", app.name), ("result", result)])
            log.emit(app: app.name, sha: wanted, "deploy.failed", [("error", "\(error)")])
        }
    }

    /// Logs a moved head once, and says so when a force-push moved it backwards.
    func noteHead(_ head: String) async {
        let known = recordingHead("read") { try store.head(app: app.name)?.sha } ?? nil
        guard let previous = known, previous != head else {
            if known == nil { recordingHead("save") { try store.saveHead(app: app.name, branch: app.branch, sha: head) } }
            return
        }
        recordingHead("save") { try store.saveHead(app: app.name, branch: app.branch, sha: head) }
        let mirror = Mirror(path: runtime.layout.mirror(app.name))
        let previousAhead = await mirror.commitsAhead(of: head, head: previous) ?? 0
        let headAhead = await mirror.commitsAhead(of: previous, head: head) ?? 1
        let backwards = previousAhead > 0 && headAhead == 0
        log.emit(
            app: app.name, sha: head, backwards ? "head.moved_backwards" : "head.moved",
            [("from", String(previous.prefix(12)))]
                + (backwards
                    ? [
                        (
                            "note",
                            app.verification.allowRewind
                                ? "force-push: deploying it (allow_rewind)"
                                : "force-push: a head that is not a descendant of the live release is refused (allow_rewind = true deploys it)"
                        )
                    ] : []))
    }

    /// Reads or saves the branch head the store keeps for `status` and for telling a push from a
    /// force-push; a failure is logged once (this app, this operation) and gives nil.
    @discardableResult
    func recordingHead<T>(_ operation: String, _ body: () throws -> T) -> T? {
        do { return try body() } catch {
            log.emitOnce(
                key: "store.failed head \(operation) \(app.name)",
                Event(
                    app: app.name, name: "store.failed",
                    fields: [
                        ("what", "\(operation) the branch head"), ("error", "\(error)"),
                        (
                            "effect",
                            "status shows an old head and moves of the branch (force-pushes too) are not told; deploys go on"
                        ),
                        ("fix", "check the disk of state_dir and state.db (jailpilot doctor); said once"),
                    ]))
            return nil
        }
    }

    /// The poll interval with ±10% jitter, doubled per consecutive failure up to 32x, at most 10 minutes.
    static func delay(_ interval: Duration, failures: Int) -> Duration {
        let factor = Double(1 << min(failures, 5)) * Double.random(in: 0.9...1.1)
        return min(.seconds(interval.seconds * factor), failures > 0 ? .seconds(600) : .seconds(interval.seconds * 1.1))
    }
}
