import FoundationEssentials

extension StateStore {
    /// Entries kept per app: the oldest go past this (a year of a deploy an hour is 8,760).
    public static let timelineLimit = 10_000

    /// Adds `transition` to its app's timeline.
    public func record(_ transition: Transition) throws {
        let phases = transition.phases.map { "\($0.name)=\($0.seconds)" }.joined(separator: " ")
        try locked { db in
            try db.query(
                "INSERT INTO transitions(ts, app, from_sha, to_sha, cause, actor, outcome, phases, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    .real(transition.time.timeIntervalSince1970), .text(transition.app),
                    transition.from.map(SQLValue.text) ?? .null,
                    .text(transition.to), .text(transition.cause), .text(transition.actor), .text(transition.outcome),
                    .text(phases), .text(transition.detail),
                ])
            try db.query(
                "DELETE FROM transitions WHERE app = ? AND id <= (SELECT id FROM transitions WHERE app = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                [.text(transition.app), .text(transition.app), .int(Int64(Self.timelineLimit))])
        }
    }

    /// `app`'s timeline, newest first: since `since` when given, at most `limit` entries.
    public func timeline(app: String, since: Date? = nil, limit: Int = 1000) throws -> [Transition] {
        try locked { db in
            try db.query(
                "SELECT \(Self.transitionColumns) FROM transitions WHERE app = ? AND ts >= ? ORDER BY id DESC LIMIT ?",
                [.text(app), .real(since?.timeIntervalSince1970 ?? 0), .int(Int64(limit))]
            ).map(Self.transition)
        }
    }

    /// When `sha` last went live for `app`, as the timeline has it.
    public func liveSince(app: String, sha: String) throws -> Date? {
        try locked { db in
            try db.query(
                "SELECT ts FROM transitions WHERE app = ? AND to_sha = ? AND outcome = 'live' ORDER BY id DESC LIMIT 1",
                [.text(app), .text(sha)]
            ).first?.first?.double.map { Date(timeIntervalSince1970: $0) }
        }
    }

    /// How often each of `app`'s commits was flipped back (probation failed), by commit.
    public func reverts(app: String) throws -> [String: Int] {
        try locked { db in
            var counts: [String: Int] = [:]
            for row in try db.query(
                "SELECT to_sha, count(*) FROM transitions WHERE app = ? AND outcome = 'reverted' GROUP BY to_sha", [.text(app)])
            {
                if let sha = row[0].string { counts[sha] = Int(row[1].int ?? 0) }
            }
            return counts
        }
    }

    /// The timeline entry with row id `id`, unless retention took it.
    public func transition(id: Int64) throws -> Transition? {
        try locked { db in
            try db.query("SELECT \(Self.transitionColumns) FROM transitions WHERE id = ?", [.int(id)]).first.map(Self.transition)
        }
    }

    private static let transitionColumns = "ts, app, from_sha, to_sha, cause, actor, outcome, phases, detail"

    private static func transition(_ row: [SQLValue]) -> Transition {
        Transition(
            time: Date(timeIntervalSince1970: row[0].double ?? 0), app: row[1].string ?? "", from: row[2].string,
            to: row[3].string ?? "", cause: row[4].string ?? "", actor: row[5].string ?? "", outcome: row[6].string ?? "",
            phases: Logfmt.parse(row[7].string ?? "").map { ($0, Double($1) ?? 0) }, detail: row[8].string ?? "")
    }
}
