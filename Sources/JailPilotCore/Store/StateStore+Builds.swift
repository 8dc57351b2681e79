import FoundationEssentials

/// One finished build of an app at a commit, under one build fingerprint.
public struct BuildRecord: Sendable, Equatable {
    public var app: String
    public var sha: String
    /// Hash of the build command and environment: a different one means a rebuild.
    public var fingerprint: String
    public var artifact: String
    public var log: String
    public var ok: Bool
    public var took: Duration

    package init(app: String, sha: String, fingerprint: String, artifact: String, log: String, ok: Bool, took: Duration) {
        self.app = app
        self.sha = sha
        self.fingerprint = fingerprint
        self.artifact = artifact
        self.log = log
        self.ok = ok
        self.took = took
    }
}

extension StateStore {
    /// Stores (or replaces) a build outcome.
    public func saveBuild(_ build: BuildRecord) throws {
        try locked { db in
            try db.query(
                "INSERT OR REPLACE INTO builds(app, sha, fingerprint, artifact, log, ok, took, finished) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    .text(build.app), .text(build.sha), .text(build.fingerprint), .text(build.artifact), .text(build.log),
                    .int(build.ok ? 1 : 0), .real(build.took.seconds), .real(clock.date.timeIntervalSince1970),
                ])
        }
    }

    /// The successful build of `app` at `sha` with `fingerprint`, if one was recorded.
    public func successfulBuild(app: String, sha: String, fingerprint: String) throws -> BuildRecord? {
        try locked { db in
            try db.query(
                "SELECT artifact, log, took FROM builds WHERE app = ? AND sha = ? AND fingerprint = ? AND ok = 1",
                [.text(app), .text(sha), .text(fingerprint)]
            ).first.map { row in
                BuildRecord(
                    app: app, sha: sha, fingerprint: fingerprint, artifact: row[0].string ?? "", log: row[1].string ?? "",
                    ok: true, took: .milliseconds(Int64((row[2].double ?? 0) * 1000)))
            }
        }
    }
}
