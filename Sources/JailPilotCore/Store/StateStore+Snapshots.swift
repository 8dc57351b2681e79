import FoundationEssentials

/// A snapshot of an app's data volume, taken before a release started or was flipped to.
public struct DataSnapshot: Sendable, Equatable {
    public var id: Int64
    public var app: String
    /// `<sha12>-<yyyymmddThhmmssZ>`: the snapshot's own name on the volume.
    public var name: String
    /// The release it was taken for (named after).
    public var releaseID: Int64
    /// The release that was live when it was taken: the data is as that release left it.
    public var holdsID: Int64?
    public var created: Date
}

extension StateStore {
    static let snapshotColumns = "id, app, name, release_id, holds_id, created"

    /// Records a snapshot taken for `release` while `holds` was live.
    @discardableResult
    public func recordSnapshot(app: String, name: String, release: Int64, holds: Int64?) throws -> DataSnapshot {
        try locked { db in
            try db.query(
                "INSERT INTO snapshots(app, name, release_id, holds_id, created) VALUES (?, ?, ?, ?, ?)",
                [
                    .text(app), .text(name), .int(release), holds.map(SQLValue.int) ?? .null,
                    .real(clock.date.timeIntervalSince1970),
                ])
            let id = try db.query("SELECT last_insert_rowid()").first?.first?.int ?? 0
            return try db.query("SELECT \(Self.snapshotColumns) FROM snapshots WHERE id = ?", [.int(id)]).map(Self.snapshot)[0]
        }
    }

    /// `app`'s recorded snapshots, oldest first.
    public func snapshots(app: String) throws -> [DataSnapshot] {
        try locked { db in
            try db.query("SELECT \(Self.snapshotColumns) FROM snapshots WHERE app = ? ORDER BY id", [.text(app)]).map(
                Self.snapshot)
        }
    }

    /// Forgets snapshots (after they were destroyed on the host).
    public func forgetSnapshots(_ ids: [Int64]) throws {
        try transaction { db in
            for id in ids { try db.query("DELETE FROM snapshots WHERE id = ?", [.int(id)]) }
        }
    }

    static func snapshot(_ row: [SQLValue]) -> DataSnapshot {
        DataSnapshot(
            id: row[0].int ?? 0, app: row[1].string ?? "", name: row[2].string ?? "", releaseID: row[3].int ?? 0,
            holdsID: row[4].int, created: Date(timeIntervalSince1970: row[5].double ?? 0))
    }
}
