import FoundationEssentials

extension Agent {
    /// After a crash or reboot: undo half-made releases, bring live releases back up, stop
    /// leftover standby releases and apply retention, so nothing is orphaned (Recovery).
    func recover() async {
        let deployer: Deployer
        do { deployer = try self.deployer() } catch {
            // Nothing can be recovered, restarted or swept without the driver: say so, never silently.
            runtime.log.emit(app: "-", "recovery.skipped", [("error", "\(error)"), ("fix", "jailpilot doctor")])
            return
        }
        await Recovery(deployer: deployer, config: config).run()
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
