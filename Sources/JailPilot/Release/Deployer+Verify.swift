extension Deployer {
    /// Runs the source's commit gate; a refusal quarantines the commit under the app's current
    /// keys and rewind setting (so it is tried again once they change, or the branch moves) and
    /// is logged as `release.refused`.
    func checkCommit(_ app: AppConfig, _ commit: String, live: Release?, fromBranch: Bool) async throws {
        if let note = ReleasePlan.verifyNote(app) { recorder?.record(note) }
        do {
            try await source.gate.check(app, sha: commit, live: live?.sha, fromBranch: fromBranch)
        } catch let refusal as CommitRefusal {
            try? store.quarantine(
                app: app.name, sha: commit, reason: "refused (\(refusal.reason.rawValue)): \(refusal.detail)",
                gate: CommitGate.stamp(app, live: live?.sha))
            var fields = [("reason", refusal.reason.rawValue), ("detail", refusal.detail)]
            if refusal.sha != commit { fields.append(("commit", refusal.sha)) }
            if refusal.reason == .rewind, let live { fields += [("from", live.sha), ("to", commit)] }
            log.emit(app: app.name, sha: commit, "release.refused", fields)
            throw refusal
        }
    }
}
