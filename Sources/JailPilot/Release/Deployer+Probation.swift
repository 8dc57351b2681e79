import FoundationEssentials

extension Deployer {
    /// After a restart: finishes the probation that a crash or shutdown interrupted. The
    /// release it replaced is brought back up (it may have stopped with the host) so that a
    /// failing release is still flipped back; then the probation runs its whole window again.
    /// Returns false when no probation was pending.
    @discardableResult
    public func resumeProbation(_ app: AppConfig) async throws -> Bool {
        let lock = try await AppLock.acquire(stateDir: runtime.config.agent.stateDir, app: app.name)
        defer { withExtendedLifetime(lock) {} }
        guard var live = try store.live(app: app.name), let previousID = live.probationOf else { return false }
        guard let previous = try store.release(id: previousID), [.standby, .retired].contains(previous.state),
            await host.exists(spec(previous, app: app))
        else {
            return try await endWithoutFallback(live, app: app, reason: "the release it replaced is gone")
        }
        let previousSpec = spec(previous, app: app)
        if await !host.isRunning(previousSpec) {
            do {
                try await bringBack(app, previousSpec)
            } catch {
                let host = self.host
                await Task.detached { try? await host.stop(previousSpec) }.value
                try Task.checkCancellation()
                let reason = (error as? HealthGateError)?.reason ?? "\(error)"
                return try await endWithoutFallback(live, app: app, reason: "the release it replaced did not start: \(reason)")
            }
        }
        let standby = previous.state == .standby ? previous : try store.update(previous, state: .standby)
        log.emit(
            app: app.name, sha: live.sha, "probation.resumed",
            [("previous", String(previous.sha.prefix(12))), ("window", DurationText.format(app.probation))])
        live = try await probationOrRevert(live, app: app, previous: standby)
        log.emit(app: app.name, sha: live.sha, "probation.passed")
        note(
            app.name, from: previous.sha, to: live.sha, cause: live.cause, outcome: "live",
            detail: "probation resumed after a restart")
        try await retire(app: app, keepRunning: live)
        return true
    }

    /// Ends a probation that has nothing left to flip back to, and says so.
    private func endWithoutFallback(_ live: Release, app: AppConfig, reason: String) async throws -> Bool {
        let live = try store.endProbation(live)
        log.emit(
            app: app.name, sha: live.sha, "probation.abandoned",
            [("reason", reason), ("note", "the live release stays; roll back by hand if it misbehaves")])
        try await retire(app: app, keepRunning: live)
        return true
    }
}

extension Deployer {
    /// Retires `app`'s replaced releases whose connections have closed or whose drain_timeout
    /// has passed (the agent calls it every second while one drains). Skips an app that is
    /// busy (a deploy holds its lock) or still on probation.
    public func retireDrained(_ app: AppConfig) async throws {
        guard let lock = try? await AppLock.acquire(stateDir: runtime.config.agent.stateDir, app: app.name) else { return }
        defer { withExtendedLifetime(lock) {} }
        guard let live = try store.live(app: app.name), live.probationOf == nil else { return }
        try await retire(app: app, keepRunning: live)
    }
}
