import FoundationEssentials

extension StateStore {
    /// Apps recorded as removed (gone from agent.conf, no jail left), with when that was first seen.
    public func removedApps() throws -> [(app: String, since: Date)] {
        try locked { db in
            try db.query("SELECT app, since FROM removed_apps ORDER BY app").compactMap { row in
                guard let app = row[0].string, let since = row[1].double else { return nil }
                return (app, Date(timeIntervalSince1970: since))
            }
        }
    }

    /// Records `app` as removed now, unless it already is (its grace period runs from the first time).
    public func markRemoved(app: String) throws {
        try locked { db in
            try db.query(
                "INSERT OR IGNORE INTO removed_apps(app, since) VALUES (?, ?)",
                [.text(app), .real(clock.date.timeIntervalSince1970)])
        }
    }

    /// Forgets that `app` was removed (it is back in agent.conf, or its files are gone).
    public func forgetRemoved(app: String) throws {
        try locked { db in try db.query("DELETE FROM removed_apps WHERE app = ?", [.text(app)]) }
    }
}
