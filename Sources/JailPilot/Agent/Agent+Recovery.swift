import FoundationEssentials

extension Agent {
    /// After a crash or reboot: undo half-made releases, bring live releases back up, stop
    /// leftover standby releases and apply retention, so nothing is orphaned.
    func recover() async {
        let deployer: Deployer
        do { deployer = try self.deployer() } catch {
            // Nothing can be recovered, restarted or swept without the driver: say so, never silently.
            runtime.log.emit(app: "-", "recovery.skipped", [("error", "\(error)"), ("fix", "jailpilot doctor")])
            return
        }
        let store = runtime.store
        let log = runtime.log
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
        _ = await SourcePipeline(runtime: runtime).builder.reclaimAbandoned()
        for release in (try? store.releases(in: [.built, .provisioned, .starting, .healthy])) ?? [] {
            guard let app = config.app(release.app) else { continue }
            let spec = deployer.spec(release, app: app)
            let host = deployer.host
            await Task.detached { try? await host.destroy(spec) }.value
            _ = try? store.update(
                release, state: .failed, step: "interrupted",
                reason: "the agent stopped while the release was \(release.state.rawValue); undone at start")
            log.emit(app: release.app, sha: release.sha, "release.undone", [("was", release.state.rawValue)])
        }
        // The jails' policy lives in the kernel (pf's anchor, nftables tables), which a reboot
        // empties: load it again before the live releases are started below, so no jail runs
        // unconfined (nothing else starts them at boot: rc.d/jail never sees their jail.conf).
        do { try await deployer.syncNetworkPolicy() } catch { log.emit(app: "-", "policy.failed", [("error", "\(error)")]) }
        for app in config.apps {
            if let live = try? store.live(app: app.name) {
                let spec = deployer.spec(live, app: app)
                if await !deployer.host.isRunning(spec) {
                    do {
                        try await deployer.startJail(spec)
                        try await deployer.healthGate(app, spec)
                        log.emit(app: app.name, sha: live.sha, "live.restarted")
                    } catch {
                        log.emit(app: app.name, sha: live.sha, "live.restart_failed", [("error", "\(error)")])
                    }
                }
                // A release still on probation keeps the one it replaced: its watcher resumes the
                // probation first thing (Deployer.resumeProbation), and retires afterwards.
                if live.probationOf != nil { continue }
                do { try await deployer.retire(app: app, keepRunning: live) } catch {
                    log.emit(app: app.name, "retire.failed", [("error", "\(error)")])
                }
            }
        }
        do { try await deployer.sweepOrphans(keeping: Set(newer.map(\.name))) } catch {
            log.emit(app: "-", "orphans.failed", [("error", "\(error)")])
        }
    }

    /// Re-reads agent.conf; a config that does not validate is refused and the last good one kept.
    func reload(reason: String) {
        configStamp = Self.stamp(configPath)
        let new: AgentConfig
        do {
            new = try ConfigLoader.load(path: configPath)
        } catch {
            runtime.log.emit(
                app: "-", "config.rejected",
                [("reason", reason), ("error", "\(error)"), ("note", "the last good config keeps running")])
            return
        }
        guard new.agent.stateDir == config.agent.stateDir, new.agent.platform == config.agent.platform else {
            runtime.log.emit(
                app: "-", "config.rejected", [("error", "state_dir and platform cannot change while the agent runs; restart it")])
            return
        }
        let old = config
        config = new
        runtime = runtime.with(config: new)
        listeners.update(new)
        notifier.update(runtime)
        if new.webhook?.listen != old.webhook?.listen {
            runtime.log.emit(app: "-", "config.partly_applied", [("note", "[webhook] listen takes effect at the next start")])
        }
        for app in old.apps where new.app(app.name) == nil {
            watchers[app.name]?.task.cancel()
            watchers[app.name] = nil
            if (try? runtime.store.live(app: app.name)) != nil { retained[app.name] = app }
            runtime.log.emit(
                app: app.name, "app.removed",
                [("note", "no longer polled; its releases and route stay until `jailpilot remove \(app.name)`")])
        }
        for app in new.apps {
            let before = old.app(app.name)
            if before != app || new.agent.pollInterval != old.agent.pollInterval {
                retained[app.name] = nil
                startWatcher(app, pinChanged: before?.pin != app.pin && app.pin != nil)
                runtime.log.emit(app: app.name, before == nil ? "app.added" : "app.changed", app.pin.map { [("pin", $0)] } ?? [])
            }
        }
        if old.apps.map(\.hostnames) != new.apps.map(\.hostnames) || old.apps.map(\.name) != new.apps.map(\.name)
            || old.caddy != new.caddy || old.webhook != new.webhook
        {
            routesApplied = false
        }
        // Every watcher's deployer, changed app or not, derives routes and policy from this: set
        // once the removed apps that still run are in `retained`, never from half the change.
        runtime.served.replace(with: routedApps)
        runtime.log.emit(
            app: "-", "config.reloaded", [("reason", reason), ("apps", new.apps.map(\.name).joined(separator: ","))])
    }
}
