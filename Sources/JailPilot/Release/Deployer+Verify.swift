extension Deployer {
    /// Runs the source's commit gate; a refusal quarantines the commit under the app's current
    /// keys and rewind setting (so it is tried again once they change, or the branch moves) and
    /// is logged as `release.refused`. `dry` (`jailpilot verify`, through `verdict`): the same
    /// gate over the same mark, changing nothing (no quarantine, log, timeline or mark).
    @discardableResult
    func checkCommit(
        _ app: AppConfig, _ commit: String, live: Release?, fromBranch: Bool, cause: String, dry: Bool = false
    ) async throws -> GatePass {
        if !dry, let note = ReleasePlan.verifyNote(app) { recorder?.record(note) }
        let mark = try await commitMark(app, dry: dry)
        do {
            return try await source.gate.check(app, sha: commit, live: live?.sha, mark: mark?.sha, fromBranch: fromBranch)
        } catch let refusal as CommitRefusal where !dry {
            do {
                try store.quarantine(
                    app: app.name, sha: commit, reason: "refused (\(refusal.reason.rawValue)): \(refusal.detail)",
                    gate: CommitGate.stamp(app, live: live?.sha, mark: mark?.sha, ring: await source.gate.ringHead(app)))
            } catch {
                storeWriteFailed(
                    app.name, sha: commit, what: "quarantine", error: error,
                    note: "the commit stays refused, but is checked again at the next poll")
            }
            var fields = [("reason", refusal.reason.rawValue), ("detail", refusal.detail)]
            if refusal.sha != commit { fields.append(("commit", refusal.sha)) }
            if refusal.reason == .rewind, let from = live?.sha ?? mark?.sha {
                fields += [("from", from), ("to", commit)] + (mark.map { $0.sha == from ? [] : [("mark", $0.sha)] } ?? [])
            }
            note(
                app.name, from: live?.sha, to: commit, cause: cause, outcome: "refused",
                detail: "\(refusal.reason.rawValue): \(refusal.detail)")
            log.emit(app: app.name, sha: commit, "release.refused", fields)
            throw refusal
        }
    }
}

extension Deployer {
    /// The commit mark a new release is made with (JailSpec.mark): with `raises` (a branch head
    /// the agent follows, past the gate) the next one, which the release raises the app's mark to
    /// once live (`Release.mark`); else the app's mark as it is. Pins and `--sha` deploys leave
    /// the mark: the operator named that commit, and the mark guards what the branch may do.
    public func releaseMark(_ app: AppConfig, commit: String, raises: Bool) async throws -> CommitMark? {
        let mark = try await commitMark(app)
        guard raises else { return mark }
        return CommitMark(sha: commit, generation: (mark?.generation ?? 0) + 1)
    }

    /// The app's commit mark; when the store has none (a store from before marks, or rebuilt),
    /// the newest one written on this state_dir's releases on the host (`dry`: read there, not
    /// recovered into the store).
    func commitMark(_ app: AppConfig, dry: Bool = false) async throws -> CommitMark? {
        if let mark = try store.mark(app: app.name) { return mark }
        if dry { return try await hostMarks(app: app.name)[app.name] }
        _ = await recoverMarks(app: app.name)
        return try store.mark(app: app.name)
    }

    /// Raises each app's mark (of `app` only, when given) to the newest one written on its
    /// releases on the host: a store restored from an older backup does not forget that a newer
    /// commit was live, so an old one cannot be replayed. Logs `mark.recovered`; returns the apps.
    ///
    /// A release carries the mark it raises to once live past probation, from the moment it is
    /// made: only those the store has no row of (made after its backup) or records past that
    /// point count. One a crash stopped mid-deploy or in probation raised nothing.
    @discardableResult
    public func recoverMarks(app: String? = nil) async -> [String] {
        var raised: [String] = []
        let marks: [String: CommitMark]
        do { marks = try await hostMarks(app: app) } catch {
            // Without the rows, every marked jail would count, even one that never went live.
            log.emit(
                app: app ?? "-", "mark.recover_failed",
                [
                    ("error", "\(error)"), ("note", "no mark raised from the host's releases"),
                    ("fix", "check state_dir's disk, then restart the agent"),
                ])
            return []
        }
        for (owner, mark) in marks.sorted(by: { $0.key < $1.key }) {
            let before: CommitMark?
            do {
                before = try store.mark(app: owner)
                guard try store.raiseMark(app: owner, mark) else { continue }
            } catch {
                log.emit(app: owner, sha: mark.sha, "mark.recover_failed", [("error", "\(error)")])
                continue
            }
            raised.append(owner)
            log.emit(
                app: owner, sha: mark.sha, "mark.recovered",
                [
                    ("generation", "\(mark.generation)"), ("store_had", before?.text ?? "none"),
                    ("from", "the releases on the host"),
                ])
        }
        return raised
    }

    /// The newest mark written on each app's releases on the host (of `app` only, when given),
    /// as `recoverMarks` counts them; nothing is raised.
    func hostMarks(app: String? = nil) async throws -> [String: CommitMark] {
        let rows = Dictionary(try store.releases(in: ReleaseState.allCases).map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        var newest: [String: CommitMark] = [:]
        for jail in await host.ownedJails() {
            guard let mark = jail.mark else { continue }
            if let row = rows[jail.name], !row.wasLivePastProbation { continue }
            guard let owner = ReleaseName(parsing: jail.name)?.app, app == nil || owner == app else { continue }
            if (newest[owner]?.generation ?? 0) < mark.generation { newest[owner] = mark }
        }
        return newest
    }
}
