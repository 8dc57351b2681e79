import FoundationEssentials

/// One notification waiting to be delivered to one receiver.
public struct OutboxItem: Sendable, Equatable {
    public var id: Int64
    /// The receiver's URL (NotifyTarget.url).
    public var target: String
    public var created: Date
    /// The event as the log had it (logfmt), until the first attempt makes it `body`.
    public var event: String
    /// The JSON sent; "" until the first attempt builds it (then it never changes).
    public var body: String
    public var attempts: Int
    /// When the next attempt is due, in seconds since 1970 as stored: compared as such, never
    /// through a `Date` (which keeps its time from 2001, so a round trip can move it by a bit).
    public var dueAt: Double
    /// `X-Jailpilot-Delivery`: 32 random hex digits, the same on every retry, never reused.
    public var delivery: String
    /// The timeline entry (Transition) the event ended, as its row id; 0 when none matched.
    public var transition: Int64
}

extension StateStore {
    /// Notifications kept per receiver: past this the oldest are dropped (and that is said).
    public static let outboxLimit = 1000

    /// Queues `event` (a logfmt line about `app` at `sha`) for `target`, tied to the newest
    /// timeline entry of `app` that went to `sha` (the release engine records the entry before it
    /// says the event); returns how many old ones had to go.
    @discardableResult
    public func enqueue(target: String, event: String, app: String = "", sha: String? = nil) throws -> Int {
        let now = clock.date.timeIntervalSince1970
        return try transaction { db in
            var transition: Int64 = 0
            if let sha, !sha.isEmpty, !app.isEmpty {
                transition =
                    try db.query(
                        "SELECT id FROM transitions WHERE app = ? AND substr(to_sha, 1, ?) = ? ORDER BY id DESC LIMIT 1",
                        [.text(app), .int(Int64(sha.utf8.count)), .text(sha)]
                    ).first?.first?.int ?? 0
            }
            try db.query(
                """
                INSERT INTO outbox(target, created, event, body, attempts, next_at, last_error, delivery, transition)
                VALUES (?, ?, ?, '', 0, ?, '', lower(hex(randomblob(16))), ?)
                """,
                [.text(target), .real(now), .text(event), .real(now), .int(transition)])
            let count = try db.query("SELECT count(*) FROM outbox WHERE target = ?", [.text(target)]).first?.first?.int ?? 0
            let excess = Int(count) - Self.outboxLimit
            guard excess > 0 else { return 0 }
            try db.query(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE target = ? ORDER BY id LIMIT ?)",
                [.text(target), .int(Int64(excess))])
            return excess
        }
    }

    private static let itemColumns = "id, target, created, event, body, attempts, next_at, delivery, transition"

    private static func item(_ row: [SQLValue]) -> OutboxItem {
        OutboxItem(
            id: row[0].int ?? 0, target: row[1].string ?? "", created: Date(timeIntervalSince1970: row[2].double ?? 0),
            event: row[3].string ?? "", body: row[4].string ?? "", attempts: Int(row[5].int ?? 0),
            dueAt: row[6].double ?? 0, delivery: row[7].string ?? "",
            transition: row[8].int ?? 0)
    }

    /// Each receiver's oldest undelivered notification, due or not: a receiver gets its events
    /// in order, so nothing behind a deferred one goes first.
    public func notificationHeads() throws -> [OutboxItem] {
        try locked { db in
            try db.query(
                "SELECT \(Self.itemColumns) FROM outbox WHERE id IN (SELECT min(id) FROM outbox GROUP BY target) ORDER BY id"
            ).map(Self.item)
        }
    }

    /// `target`'s oldest undelivered notification.
    public func nextNotification(target: String) throws -> OutboxItem? {
        try locked { db in
            try db.query(
                "SELECT \(Self.itemColumns) FROM outbox WHERE target = ? ORDER BY id LIMIT 1", [.text(target)]
            ).first.map(Self.item)
        }
    }

    /// Records the body built for `id` at its first attempt.
    public func setNotificationBody(_ id: Int64, _ body: String) throws {
        try locked { db in try db.query("UPDATE outbox SET body = ? WHERE id = ?", [.text(body), .int(id)]) }
    }

    /// Removes a delivered (or abandoned) item.
    public func removeNotification(_ id: Int64) throws {
        try locked { db in try db.query("DELETE FROM outbox WHERE id = ?", [.int(id)]) }
    }

    /// Records a failed attempt; the next one is not before `retryIn` from now.
    public func deferNotification(_ id: Int64, retryIn: Duration, error: String) throws {
        try locked { db in
            try db.query(
                "UPDATE outbox SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?",
                [.real(clock.date.timeIntervalSince1970 + retryIn.seconds), .text(String(error.prefix(500))), .int(id)])
        }
    }

    /// Undelivered notifications per receiver URL.
    public func undeliveredNotifications() throws -> [String: Int] {
        try locked { db in
            var counts: [String: Int] = [:]
            for row in try db.query("SELECT target, count(*) FROM outbox GROUP BY target") {
                counts[row[0].string ?? ""] = Int(row[1].int ?? 0)
            }
            return counts
        }
    }
}
