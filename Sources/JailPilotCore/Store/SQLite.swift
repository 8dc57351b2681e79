import CSQLite
import FoundationEssentials
import Glibc

/// A value bound to or read from SQLite.
public enum SQLValue: Sendable, Equatable {
    case null
    case int(Int64)
    case real(Double)
    case text(String)

    public var string: String? { if case .text(let s) = self { return s } else { return nil } }
    public var int: Int64? { if case .int(let n) = self { return n } else { return nil } }
    public var double: Double? {
        switch self {
        case .real(let d): return d
        case .int(let n): return Double(n)
        default: return nil
        }
    }
}

/// A failed SQLite call, with the statement and SQLite's message.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var code: Int32
    public var message: String
    public var sql: String

    public var isBusy: Bool { code & 0xff == SQLITE_BUSY || code & 0xff == SQLITE_LOCKED }
    public var isCorrupt: Bool { code & 0xff == SQLITE_CORRUPT || code & 0xff == SQLITE_NOTADB }
    /// SQLITE_FULL, or an I/O error on a file system with next to no room left: in WAL mode a
    /// full disk surfaces as "disk I/O error" from the write-ahead log.
    public var isFull: Bool {
        code & 0xff == SQLITE_FULL || (code & 0xff == SQLITE_IOERR && (freeBytes.map { $0 < 1 << 20 } ?? false))
    }

    /// Free bytes (for unprivileged writers) on the file system holding the database.
    var freeBytes: UInt64? {
        var info = statvfs()
        guard statvfs(FileIO.parent(path), &info) == 0 else { return nil }
        return UInt64(info.f_bavail) * UInt64(info.f_frsize)
    }

    public var description: String {
        var text = "state database \(path): \(message)"
        if isBusy { text += "; another process holds it locked (is a second agent or a sqlite3 shell running?)" }
        if isCorrupt {
            text += "; it is damaged. jailpilot will not touch it: move it aside, keep it for inspection, and restore a backup"
        }
        if isFull {
            let free = freeBytes.map { " (\($0 / 1024) KiB free)" } ?? ""
            text +=
                "; the disk holding \(FileIO.parent(path)) is full\(free): free space there (old artifacts, logs) and try again"
        }
        return text
    }
}

/// One SQLite connection, used from one thread at a time (callers serialise).
///
/// Statements are prepared once per SQL text and kept: the agent runs the same few queries at
/// every poll of every app, and preparing (parsing, resolving names) cost more than running them.
final class SQLiteConnection {
    let path: String
    private let handle: OpaquePointer
    /// Prepared statements by their SQL, reset after each use (so none holds a read transaction).
    private var prepared: [String: OpaquePointer] = [:]
    /// At most this many kept: SQL made from data would otherwise grow the cache without end.
    static let preparedLimit = 64

    init(path: String) throws {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw SQLiteError(path: path, code: rc, message: message, sql: "open")
        }
        self.path = path
        self.handle = db
        sqlite3_busy_timeout(db, 5000)
    }

    deinit {
        for statement in prepared.values { sqlite3_finalize(statement) }
        sqlite3_close(handle)
    }

    /// The prepared statement for `sql`, from the cache or prepared now.
    private func statement(_ sql: String) throws -> OpaquePointer {
        if let kept = prepared[sql] { return kept }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            sqlite3_finalize(statement)
            throw error(sql)
        }
        if prepared.count >= Self.preparedLimit {
            for old in prepared.values { sqlite3_finalize(old) }
            prepared.removeAll(keepingCapacity: true)
        }
        prepared[sql] = statement
        return statement
    }

    /// Rows this connection's statements have changed since it opened.
    var totalChanges: Int64 { sqlite3_total_changes64(handle) }

    /// Statements kept prepared (for tests).
    var preparedCount: Int { prepared.count }

    /// Runs `sql` (one statement) with `bindings`, returning every row.
    @discardableResult
    func query(_ sql: String, _ bindings: [SQLValue] = []) throws -> [[SQLValue]] {
        let statement = try statement(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (i, value) in bindings.enumerated() {
            let index = Int32(i + 1)
            switch value {
            case .null: sqlite3_bind_null(statement, index)
            case .int(let n): sqlite3_bind_int64(statement, index, n)
            case .real(let d): sqlite3_bind_double(statement, index, d)
            case .text(let s): sqlite3_bind_text(statement, index, s, -1, unsafeBitCast(-1, to: sqlite3_destructor_type.self))
            }
        }
        var rows: [[SQLValue]] = []
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw error(sql) }
            rows.append(
                (0..<sqlite3_column_count(statement)).map { column in
                    switch sqlite3_column_type(statement, column) {
                    case SQLITE_INTEGER: return .int(sqlite3_column_int64(statement, column))
                    case SQLITE_FLOAT: return .real(sqlite3_column_double(statement, column))
                    case SQLITE_NULL: return .null
                    default: return .text(String(cString: sqlite3_column_text(statement, column)))
                    }
                })
        }
        return rows
    }

    /// Runs several `;`-separated statements without bindings.
    func execute(_ sql: String) throws {
        guard sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else { throw error(sql) }
    }

    private func error(_ sql: String) -> SQLiteError {
        SQLiteError(
            path: path, code: sqlite3_extended_errcode(handle), message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }
}
