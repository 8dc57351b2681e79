import FoundationEssentials

/// What the agent does at start, after a crash or a reboot: releases a stopped agent left half
/// made are undone, live releases are brought back up, leftover standby releases retired and
/// retention applied, orphans swept. Each app's part runs under the app's lock, like a deploy:
/// a `jailpilot deploy` running meanwhile keeps its release, and that app is left to it.
public struct Recovery: Sendable {
    public let deployer: Deployer
    public let config: AgentConfig
    /// How long an app's lock is waited for before its recovery is left to the holder.
    public var patience: Duration = AppLock.patience

    public init(deployer: Deployer, config: AgentConfig) {
        self.deployer = deployer
        self.config = config
    }

    var store: StateStore { deployer.runtime.store }
    var log: EventLog { deployer.runtime.log }

    /// Runs the whole recovery; every failure is logged, none stops the agent.
    public func run() async {
        do {
            try await deployer.requireStoreMatchesHost()
        } catch {
            // Nothing is undone, restarted or swept: every deploy refuses with the same error.
            log.emit(app: "-", "store.lost", [("error", "\(error)")])
            return
        }
        // A store restored from an older backup: the host has releases it never heard of. They are
        // kept (the newest may be what serves), and the commits they say were live are taken over.
        let newer = await deployer.jailsNewerThanStore()
        if !newer.isEmpty {
            log.emit(
                app: "-", "store.behind_host",
                [
                    ("jails", newer.map(\.name).joined(separator: ",")),
                    ("note", "state.db is older than these releases (restored from a backup?): they are kept, not swept"),
                    ("fix", "restore the newest state.db; or, once sure, remove them by hand (docs/DESIGN.md, \"Ownership\")"),
                ])
        }
        await deployer.recoverMarks()
        // Every live release the store records, including apps no longer in agent.conf: what boots
        // them is settled (and what earlier versions left for rc.d/jail moved) before any jail
        // is started or stopped below. A store that cannot be read leaves it as it is.
        do {
            let live = try store.releases(in: [.live]).map { JailSpec(found: $0.name, service: "-") }
            try await deployer.host.syncBootList(live)
        } catch {
            log.emit(app: "-", "bootlist.failed", [("error", "\(error)")])
        }
        // Builds a crash interrupted: their build jails, mounts and staging directories.
        _ = await SourcePipeline(runtime: deployer.runtime).builder.reclaimAbandoned()
        var busy: Set<String> = []
        let halfMade: [Release]
        do { halfMade = try store.releases(in: [.built, .provisioned, .starting, .healthy]) } catch {
            log.emit(app: "-", "recovery.failed", [("error", "\(error)"), ("note", "half-made releases are left as they are")])
            halfMade = []
        }
        for appName in Set(halfMade.map(\.app)).sorted() {
            guard let app = config.app(appName) else { continue }
            if await !undoHalfMade(app) { busy.insert(app.name) }
        }
        // The jails' policy lives in the kernel (pf's anchor, nftables tables), which a reboot
        // empties: load it again before the live releases are started below, so no jail runs
        // unconfined (nothing else starts them at boot: rc.d/jail never sees their jail.conf).
        do { try await deployer.syncNetworkPolicy() } catch { log.emit(app: "-", "policy.failed", [("error", "\(error)")]) }
        for app in config.apps where !busy.contains(app.name) {
            guard let lock = await lock(app) else { continue }
            await restartLive(app)
            withExtendedLifetime(lock) {}
        }
        do { try await deployer.sweepOrphans(keeping: Set(newer.map(\.name))) } catch {
            log.emit(app: "-", "orphans.failed", [("error", "\(error)")])
        }
    }

    /// The app's lock, or nil (said once) when a deploy holds it: that deploy owns its releases.
    func lock(_ app: AppConfig) async -> AppLock? {
        do {
            return try await AppLock.acquire(stateDir: config.agent.stateDir, app: app.name, patience: patience)
        } catch {
            log.emit(
                app: app.name, "recovery.deferred",
                [("error", "\(error)"), ("note", "a deploy holds the app's lock: its releases are left to it")])
            return nil
        }
    }

    /// Undoes `app`'s half-made releases under its lock, as they are once it is held; false when
    /// the lock is held by someone else (a deploy that is making one of them).
    func undoHalfMade(_ app: AppConfig) async -> Bool {
        guard let lock = await lock(app) else { return false }
        defer { withExtendedLifetime(lock) {} }
        let releases: [Release]
        do { releases = try store.releases(app: app.name) } catch {
            log.emit(app: app.name, "recovery.failed", [("error", "\(error)")])
            return true
        }
        for release in releases where [.built, .provisioned, .starting, .healthy].contains(release.state) {
            let spec = deployer.spec(release, app: app)
            let host = deployer.host
            let destroyed: Error? = await Task.detached {
                do { try await host.destroy(spec) } catch { return error }
                return nil
            }.value
            if let destroyed {
                log.emit(
                    app: app.name, sha: release.sha, "release.destroy_failed", [("jail", spec.name), ("error", "\(destroyed)")])
            }
            do {
                _ = try store.update(
                    release, state: .failed, step: "interrupted",
                    reason: "the agent stopped while the release was \(release.state.rawValue); undone at start")
            } catch {
                deployer.storeWriteFailed(
                    app.name, sha: release.sha, what: "undo \(release.name)", error: error,
                    note: "it is undone again at the next start")
                continue
            }
            log.emit(app: app.name, sha: release.sha, "release.undone", [("was", release.state.rawValue)])
        }
        return true
    }

    /// Starts `app`'s live release if it is not running, then retires what stands by (unless
    /// it is on probation: its watcher resumes that first).
    func restartLive(_ app: AppConfig) async {
        let live: Release?
        do { live = try store.live(app: app.name) } catch {
            log.emit(app: app.name, "recovery.failed", [("error", "\(error)")])
            return
        }
        guard let live else { return }
        let spec = deployer.spec(live, app: app)
        var running = true
        if await !deployer.host.isRunning(spec) {
            do {
                try await deployer.bringBack(app, spec)
                log.emit(app: app.name, sha: live.sha, "live.restarted")
            } catch {
                log.emit(app: app.name, sha: live.sha, "live.restart_failed", [("error", "\(error)")])
                running = false
            }
        }
        // A stop-first swap the agent did not finish: the release it took out serves again.
        if live.isSwappedOut, running {
            do {
                _ = try await RouteTable.commit(store: store, stateDir: config.agent.stateDir) { try store.endSwap(live) }
                log.emit(app: app.name, sha: live.sha, "release.swapped_back", [("jail", live.name), ("by", "recovery")])
            } catch {
                log.emit(app: app.name, sha: live.sha, "recovery.failed", [("error", "\(error)")])
            }
        }
        // A release still on probation keeps the one it replaced: its watcher resumes the
        // probation first thing (Deployer.resumeProbation), and retires afterwards.
        if live.probationOf != nil { return }
        do { try await deployer.retire(app: app, keepRunning: live) } catch {
            log.emit(app: app.name, "retire.failed", [("error", "\(error)")])
        }
    }
}
