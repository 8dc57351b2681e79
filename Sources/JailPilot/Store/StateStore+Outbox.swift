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
}

extension StateStore {
    /// Notifications kept per receiver: past this the oldest are dropped (and that is said).
    public static let outboxLimit = 1000

    /// Queues `event` (a logfmt line) for `target`; returns how many old ones had to go.
    @discardableResult
    public func enqueue(target: String, event: String) throws -> Int {
        let now = clock.date.timeIntervalSince1970
        return try transaction { db in
            try db.query(
                "INSERT INTO outbox(target, created, event, body, attempts, next_at, last_error) VALUES (?, ?, ?, '', 0, ?, '')",
                [.text(target), .real(now), .text(event), .real(now)])
            let count = try db.query("SELECT count(*) FROM outbox WHERE target = ?", [.text(target)]).first?.first?.int ?? 0
            let excess = Int(count) - Self.outboxLimit
            guard excess > 0 else { return 0 }
            try db.query(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE target = ? ORDER BY id LIMIT ?)",
                [.text(target), .int(Int64(excess))])
            return excess
        }
    }

    /// Items due now, oldest first.
    public func dueNotifications(limit: Int = 50) throws -> [OutboxItem] {
        try locked { db in
            try db.query(
                "SELECT id, target, created, event, body, attempts FROM outbox WHERE next_at <= ? ORDER BY id LIMIT ?",
                [.real(clock.date.timeIntervalSince1970), .int(Int64(limit))]
            ).map { row in
                OutboxItem(
                    id: row[0].int ?? 0, target: row[1].string ?? "", created: Date(timeIntervalSince1970: row[2].double ?? 0),
                    event: row[3].string ?? "", body: row[4].string ?? "", attempts: Int(row[5].int ?? 0))
            }
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
