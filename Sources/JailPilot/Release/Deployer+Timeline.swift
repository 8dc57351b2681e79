import FoundationEssentials

extension Deployer {
    /// Adds one entry to `app`'s timeline (Transition), asked for by this deployer's actor. A
    /// store that cannot take it is said in the log; the deploy itself goes on.
    func note(
        _ app: String, from: String?, to: String, cause: String, outcome: String, phases: [(String, Duration)] = [],
        detail: String = ""
    ) {
        let transition = Transition(
            time: clock.date, app: app, from: from, to: to, cause: cause.isEmpty ? "manual" : cause, actor: actor,
            outcome: outcome, phases: phases.map { ($0.0, $0.1.seconds) }, detail: detail)
        do { try store.record(transition) } catch {
            log.emitOnce(
                key: "timeline.failed", Event(app: app, name: "timeline.failed", fields: [("error", "\(error)")]))
        }
    }
}

extension Deployer {
    /// Quarantines `sha` for what it did (a build, health or probation failure) and says so
    /// (`release.quarantined`, which notifications can ask for).
    /// A store that cannot take it is said instead (`store.write_failed`): the commit is then
    /// not held back, and the log must not claim it is.
    func quarantine(_ app: AppConfig, sha: String, reason: String, env: String = "") {
        do { try store.quarantine(app: app.name, sha: sha, reason: reason, env: env) } catch {
            storeWriteFailed(
                app.name, sha: sha, what: "quarantine", error: error,
                note: "not quarantined: the next poll may try this commit again (\(reason))")
            return
        }
        log.emit(
            app: app.name, sha: sha, "release.quarantined",
            [("reason", reason), ("retry", "after a new commit, a new pin or jailpilot deploy --sha")])
    }
}

extension Deployer {
    /// Says that a store write on a deploy path failed: what it was, the error, what follows.
    func storeWriteFailed(_ app: String, sha: String?, what: String, error: Error, note: String) {
        log.emit(
            app: app, sha: sha, "store.write_failed",
            [
                ("what", what), ("error", "\(error)"), ("note", note),
                ("fix", "check the disk holding state_dir (df), then jailpilot status"),
            ])
    }
}
