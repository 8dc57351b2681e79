import FoundationEssentials

/// One thing that happened to an app, as logged and stored.
public struct Event: Sendable, Equatable {
    public var time: Date
    public var app: String
    public var sha: String?
    /// Dotted name, e.g. `fetch.ok`, `build.failed`.
    public var name: String
    public var took: Duration?
    /// Extra key/value pairs, in order.
    public var fields: [(String, String)]

    public init(
        app: String, sha: String? = nil, name: String, took: Duration? = nil, fields: [(String, String)] = [], time: Date = Date()
    ) {
        self.time = time
        self.app = app
        self.sha = sha
        self.name = name
        self.took = took
        self.fields = fields
    }

    public static func == (a: Event, b: Event) -> Bool {
        a.time == b.time && a.app == b.app && a.sha == b.sha && a.name == b.name && a.took == b.took
            && a.fields.map { "\($0)=\($1)" } == b.fields.map { "\($0)=\($1)" }
    }
}

extension StateStore {
    /// Appends `event`.
    public func record(_ event: Event) throws {
        let detail = event.fields.map { Logfmt.pair($0, $1) }.joined(separator: " ")
        try locked { db in
            try db.query(
                "INSERT INTO events(ts, app, sha, event, took, detail) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    .real(event.time.timeIntervalSince1970), .text(event.app), event.sha.map(SQLValue.text) ?? .null,
                    .text(event.name), event.took.map { .real($0.seconds) } ?? .null, .text(detail),
                ])
        }
    }

    /// Deletes all but the newest `keeping` events; returns how many went.
    @discardableResult
    public func capEvents(keeping: Int) throws -> Int {
        try locked { db in
            let newest = try db.query("SELECT COALESCE(MAX(id), 0) FROM events").first?[0].int ?? 0
            guard newest > Int64(keeping) else { return 0 }
            let before = try db.query("SELECT COUNT(*) FROM events").first?[0].int ?? 0
            try db.query("DELETE FROM events WHERE id <= ?", [.int(newest - Int64(keeping))])
            let after = try db.query("SELECT COUNT(*) FROM events").first?[0].int ?? 0
            return Int(before - after)
        }
    }

    /// The newest `limit` events of `app`, oldest first.
    public func events(app: String, limit: Int = 100) throws -> [Event] {
        try locked { db in
            try db.query(
                "SELECT ts, app, sha, event, took, detail FROM events WHERE app = ? ORDER BY id DESC LIMIT ?",
                [.text(app), .int(Int64(limit))]
            ).reversed().map { row in
                Event(
                    app: row[1].string ?? "", sha: row[2].string, name: row[3].string ?? "",
                    took: row[4].double.map { .milliseconds(Int64(($0 * 1000).rounded())) },
                    fields: Logfmt.parse(row[5].string ?? ""), time: Date(timeIntervalSince1970: row[0].double ?? 0))
            }
        }
    }

    /// Remembers the branch head last seen for `app`.
    public func saveHead(app: String, branch: String, sha: String) throws {
        try locked { db in
            try db.query(
                "INSERT INTO heads(app, branch, sha, checked) VALUES (?, ?, ?, ?) ON CONFLICT(app) DO UPDATE SET branch = excluded.branch, sha = excluded.sha, checked = excluded.checked",
                [.text(app), .text(branch), .text(sha), .real(clock.date.timeIntervalSince1970)])
        }
    }

    /// The branch head last seen for `app`, if any.
    public func head(app: String) throws -> (branch: String, sha: String)? {
        try locked { db in
            try db.query("SELECT branch, sha FROM heads WHERE app = ?", [.text(app)]).first.map {
                ($0[0].string ?? "", $0[1].string ?? "")
            }
        }
    }
}

extension Duration {
    /// Seconds as a Double.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
