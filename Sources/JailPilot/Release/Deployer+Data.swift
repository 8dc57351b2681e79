import FoundationEssentials

/// The release step failed: non-zero exit or time-out. It is the commit's fault, like a failing
/// health check: the release is abandoned and its commit quarantined.
struct ReleaseStepError: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}

extension Deployer {
    /// Snapshots `app`'s data for `release` while `live` is live (the data is as `live` left it),
    /// and records it. Nothing for an app without `data`.
    @discardableResult
    func takeSnapshot(for release: Release, app: AppConfig, holding live: Release?) async throws -> DataSnapshot? {
        guard app.data != nil else { return nil }
        recorder?.record(ReleasePlan.dataNote(app))
        try await host.ensureData(app: app.name)
        var name = SnapshotName.make(sha: release.sha, at: clock.date)
        // Two snapshots of one release within a second (a quick rollback and back): the next second.
        while await host.hasSnapshot(app: app.name, name: name) {
            try await clock.sleep(for: .milliseconds(250))
            name = SnapshotName.make(sha: release.sha, at: clock.date)
        }
        recorder?.record(ReleasePlan.snapshotNote)
        try await host.snapshotData(app: app.name, name: name)
        let snapshot = try store.recordSnapshot(app: app.name, name: name, release: release.id, holds: live?.id)
        log.emit(
            app: app.name, sha: release.sha, "data.snapshot",
            [("snapshot", name)] + (live.map { [("holds", $0.name)] } ?? []))
        return snapshot
    }

    /// Runs `app.release` in the new release's started jail. Its output goes to the release's
    /// log; a non-zero exit or a time-out throws `ReleaseStepError`, naming the data snapshot
    /// taken before it.
    func releaseStep(
        _ app: AppConfig, _ spec: JailSpec, release: Release, snapshot: DataSnapshot?, live: Release?
    ) async throws -> Release {
        let release = try store.markReleaseStepRan(release)
        let command = app.release.map { ShellQuote.quote($0) }.joined(separator: " ")
        progress("release step: \(command)")
        log.emit(app: app.name, sha: release.sha, "release_step.started", [("argv", command)])
        let clock = self.clock
        let start = clock.now
        recorder?.record(ReleasePlan.releaseStepNote(app))
        let result = try await host.runReleaseStep(spec, argv: app.release, timeout: app.releaseTimeout)
        let took = clock.now - start
        let how =
            result.timedOut
            ? "did not finish within release_timeout (\(DurationText.format(app.releaseTimeout))) and was killed"
            : "exited with status \(result.status)"
        try? FileIO.append(
            host.logPath(spec),
            text:
                "jailpilot: release step `\(command)` \(result.succeeded ? "finished" : "failed"): \(result.timedOut ? "killed at its time-out" : "status \(result.status)")\n"
        )
        guard result.succeeded else {
            log.emit(app: app.name, sha: release.sha, "release_step.failed", took: took, [("result", how)])
            let data =
                snapshot.map {
                    "; it may have changed the data: snapshot \($0.name) holds the data from before it"
                        + (live.map { " (to put it back: jailpilot rollback \(app.name) --with-data --to \($0.sha.prefix(12)))" }
                            ?? "")
                } ?? ""
            throw ReleaseStepError(reason: "the release step `\(command)` \(how); its output is in the release's log\(data)")
        }
        log.emit(app: app.name, sha: release.sha, "release_step.done", took: took)
        return release
    }
}
