import FoundationEssentials

extension StateStore {
    /// Places a hold: the agent keeps `sha` instead of following the branch (set by rollback).
    public func hold(app: String, sha: String) throws {
        try locked { db in
            try db.query(
                "INSERT OR REPLACE INTO holds(app, sha, at) VALUES (?, ?, ?)",
                [.text(app), .text(sha), .real(clock.date.timeIntervalSince1970)])
        }
    }

    /// The SHA `app` is held at, if any.
    public func holdSHA(app: String) throws -> String? {
        try locked { db in try db.query("SELECT sha FROM holds WHERE app = ?", [.text(app)]).first?.first?.string }
    }

    /// When the hold on `app` was placed, if there is one.
    public func holdSince(app: String) throws -> Date? {
        try locked { db in
            try db.query("SELECT at FROM holds WHERE app = ?", [.text(app)]).first?.first?.double.map {
                Date(timeIntervalSince1970: $0)
            }
        }
    }

    /// Lifts the hold on `app`; returns whether there was one.
    @discardableResult
    public func release(holdOn app: String) throws -> Bool {
        try locked { db in
            let had = try db.query("SELECT 1 FROM holds WHERE app = ?", [.text(app)]).isEmpty == false
            try db.query("DELETE FROM holds WHERE app = ?", [.text(app)])
            return had
        }
    }

    /// Remembers that `sha` failed for `app` so it is not retried until something changes.
    /// `env`: the environment digest the commit failed with ("" for a build failure, which no
    /// environment changes); a quarantine with one no longer applies once the environment changes.
    /// `gate`: for a refused commit, what its keys and rewind setting were; the quarantine no
    /// longer applies once they change.
    public func quarantine(app: String, sha: String, reason: String, env: String = "", gate: String = "") throws {
        try locked { db in
            try db.query(
                "INSERT OR REPLACE INTO quarantine(app, sha, reason, at, env, gate) VALUES (?, ?, ?, ?, ?, ?)",
                [.text(app), .text(sha), .text(reason), .real(clock.date.timeIntervalSince1970), .text(env), .text(gate)])
        }
    }

    /// Why `sha` is quarantined for `app`, if it is.
    public func quarantineReason(app: String, sha: String) throws -> String? {
        try locked { db in
            try db.query("SELECT reason FROM quarantine WHERE app = ? AND sha = ?", [.text(app), .text(sha)]).first?.first?.string
        }
    }

    /// Why a commit starting with `prefix` is quarantined for `app`, if one is.
    /// With `env`, a quarantine recorded under another environment does not count; with `gate`,
    /// a refusal recorded under other keys or another rewind setting does not.
    public func quarantineReason(app: String, prefix: String, env: String? = nil, gate: String? = nil) throws -> String? {
        try locked { db in
            try db.query(
                """
                SELECT reason FROM quarantine WHERE app = ? AND substr(sha, 1, ?) = ?
                AND (? IS NULL OR env = '' OR env = ?) AND (? IS NULL OR gate = '' OR gate = ?)
                """,
                [
                    .text(app), .int(Int64(prefix.count)), .text(prefix.lowercased()), env.map(SQLValue.text) ?? .null,
                    env.map(SQLValue.text) ?? .null, gate.map(SQLValue.text) ?? .null, gate.map(SQLValue.text) ?? .null,
                ]
            ).first?.first?.string
        }
    }

    /// Lifts quarantine of `sha` (an explicit deploy of it).
    public func unquarantine(app: String, sha: String) throws {
        try locked { db in try db.query("DELETE FROM quarantine WHERE app = ? AND sha = ?", [.text(app), .text(sha)]) }
    }

    /// Every quarantined commit of `app` (failed or refused), newest first.
    public func quarantined(app: String, limit: Int = 1000) throws -> [(sha: String, reason: String, at: Date)] {
        try locked { db in
            try db.query(
                "SELECT sha, reason, at FROM quarantine WHERE app = ? ORDER BY at DESC LIMIT ?", [.text(app), .int(Int64(limit))]
            ).compactMap { row in
                guard let sha = row[0].string, let reason = row[1].string, let at = row[2].double else { return nil }
                return (sha, reason, Date(timeIntervalSince1970: at))
            }
        }
    }

    /// Every refusal of one of `app`'s commits, newest first.
    public func refusals(app: String) throws -> [(sha: String, reason: String, at: Date)] {
        try locked { db in
            try db.query(
                "SELECT sha, reason, at FROM quarantine WHERE app = ? AND reason LIKE 'refused%' ORDER BY at DESC", [.text(app)]
            ).compactMap { row in
                guard let sha = row[0].string, let reason = row[1].string, let at = row[2].double else { return nil }
                return (sha, reason, Date(timeIntervalSince1970: at))
            }
        }
    }
}
