import FoundationEssentials

extension StateStore {
    /// The app's commit mark: the newest commit it had live going forward (CommitMark).
    public func mark(app: String) throws -> CommitMark? {
        try locked { db in try Self.mark(db, app: app) }
    }

    /// Records `mark` for `app` when it is newer (a higher generation) than the one recorded;
    /// returns whether it was. Marks never go down: a rollback or a flip-back leaves them.
    @discardableResult
    public func raiseMark(app: String, _ mark: CommitMark) throws -> Bool {
        try locked { db in try Self.raise(db, app: app, mark) }
    }

    /// A kept release brought back by a branch head (allow_rewind) raises the mark like a new one.
    public func assignMark(_ release: Release, generation: Int) throws -> Release {
        try locked { db in
            let current = try Self.existing(db, id: release.id, wanted: "mark \(generation)")
            // Only a kept release on its way back takes a mark this way (a new one is created with it).
            guard [.standby, .retired].contains(current.state) else {
                throw ReleaseTransitionError(release: "\(current.name) (id \(current.id))", from: current.state, to: .live)
            }
            try db.query("UPDATE releases SET mark = ? WHERE id = ?", [.int(Int64(generation)), .int(release.id)])
            return try Self.existing(db, id: release.id, wanted: "mark \(generation)")
        }
    }

    static func mark(_ db: SQLiteConnection, app: String) throws -> CommitMark? {
        guard let row = try db.query("SELECT sha, generation FROM commit_marks WHERE app = ?", [.text(app)]).first,
            let sha = row[0].string, let generation = row[1].int
        else { return nil }
        return CommitMark(sha: sha, generation: Int(generation))
    }

    static func raise(_ db: SQLiteConnection, app: String, _ mark: CommitMark) throws -> Bool {
        if let current = try Self.mark(db, app: app), current.generation >= mark.generation { return false }
        try db.query(
            "INSERT INTO commit_marks(app, sha, generation) VALUES (?, ?, ?) ON CONFLICT(app) DO UPDATE SET sha = excluded.sha, generation = excluded.generation",
            [.text(app), .text(mark.sha), .int(Int64(mark.generation))])
        return true
    }

    /// A release that is live and past probation raises its app's mark to the one it was made
    /// with (`Release.mark`), in the same transaction as the state change.
    static func raiseMark(_ db: SQLiteConnection, for release: Release) throws {
        guard release.mark > 0 else { return }
        _ = try raise(db, app: release.app, CommitMark(sha: release.sha, generation: release.mark))
    }
}

extension StateStore {
    /// Writes a consistent copy of the database to `path` (SQLite's `VACUUM INTO`), which must
    /// not exist: a backup taken while the agent runs.
    public func backup(to path: String) throws {
        try locked { db in try db.query("VACUUM INTO ?", [.text(path)]) }
    }
}
