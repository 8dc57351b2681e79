import FoundationEssentials

/// The agent's durable state in SQLite: events, builds, releases, quarantine, holds, heads.
///
/// It is the source of truth for what is live and kept; routes, jail configs and datasets are
/// derived from it. All access goes through one connection behind a lock, so the store can be
/// shared by every task of the agent.
public final class StateStore: @unchecked Sendable {
    /// Path of the database file.
    public let path: String
    let lock = Lock()
    let db: SQLiteConnection
    /// What rows are timestamped with (the release engine's clock).
    public let clock: any ReleaseClock

    /// Opens (creating if needed) `state_dir/state.db`; refuses a damaged database.
    public init(stateDir: String, clock: any ReleaseClock = SystemClock()) throws {
        self.clock = clock
        try FileIO.makeDirectories(stateDir, mode: 0o750)
        path = "\(stateDir)/state.db"
        db = try SQLiteConnection(path: path)
        do {
            // A small page cache (256 KiB, SQLite's default is 2 MiB): the database is small, the
            // OS caches the file anyway, and the agent's memory is a budget (docs/BENCHMARKS.md).
            try db.execute("PRAGMA cache_size=-256")
            let check = try db.query("PRAGMA quick_check")
            if let first = check.first?.first?.string, first != "ok" {
                throw SQLiteError(path: path, code: 11, message: "integrity check failed: \(first)", sql: "PRAGMA quick_check")
            }
            try db.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON")
            try migrate()
            // Prove it is writable now: a database another process holds locked is refused at
            // start, not at the first step of a deploy.
            try db.execute("BEGIN IMMEDIATE; COMMIT")
        } catch let error as SQLiteError where error.code & 0xff == 26 {
            throw SQLiteError(path: path, code: 26, message: "file is not a database", sql: error.sql)
        }
    }

    /// Changes whenever the database does, by this process or another (PRAGMA data_version
    /// counts other connections' commits, total_changes this one's): what is derived from the
    /// store need not be derived again while it stays the same.
    public var changeStamp: String {
        locked { db in
            let others = (try? db.query("PRAGMA data_version").first?.first?.int) ?? nil
            return "\(others.map(String.init) ?? "?"):\(db.totalChanges)"
        }
    }

    /// Runs `body` holding the store's lock.
    @discardableResult
    func locked<T>(_ body: (SQLiteConnection) throws -> T) rethrows -> T {
        try lock.withLock { try body(db) }
    }

    /// Runs `body` in one transaction (all or nothing).
    func transaction<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try locked { db in
            try db.execute("BEGIN IMMEDIATE")
            do {
                let result = try body(db)
                try db.execute("COMMIT")
                return result
            } catch {
                try? db.execute("ROLLBACK")
                throw error
            }
        }
    }

    static let migrations = [
        """
        CREATE TABLE events(
            id INTEGER PRIMARY KEY, ts REAL NOT NULL, app TEXT NOT NULL, sha TEXT,
            event TEXT NOT NULL, took REAL, detail TEXT NOT NULL DEFAULT '');
        CREATE INDEX events_app ON events(app, id);
        CREATE TABLE builds(
            app TEXT NOT NULL, sha TEXT NOT NULL, fingerprint TEXT NOT NULL, artifact TEXT NOT NULL,
            log TEXT NOT NULL, ok INTEGER NOT NULL, took REAL NOT NULL, finished REAL NOT NULL,
            PRIMARY KEY(app, sha, fingerprint));
        CREATE TABLE heads(app TEXT PRIMARY KEY, branch TEXT NOT NULL, sha TEXT NOT NULL, checked REAL NOT NULL);
        CREATE TABLE releases(
            id INTEGER PRIMARY KEY, app TEXT NOT NULL, sha TEXT NOT NULL, name TEXT NOT NULL,
            state TEXT NOT NULL, address TEXT, step TEXT, reason TEXT,
            created REAL NOT NULL, updated REAL NOT NULL, phases TEXT NOT NULL DEFAULT '');
        CREATE INDEX releases_app ON releases(app, id);
        CREATE TABLE quarantine(app TEXT NOT NULL, sha TEXT NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL,
            PRIMARY KEY(app, sha));
        CREATE TABLE holds(app TEXT PRIMARY KEY, sha TEXT NOT NULL, at REAL NOT NULL);
        """,
        // A live release still on probation names the release it replaced, which stays ready to
        // flip back to; recovery resumes the probation after a crash instead of retiring it.
        "ALTER TABLE releases ADD COLUMN probation_of INTEGER",
        // The digest of a release's environment (part of its name) and why it was made.
        "ALTER TABLE releases ADD COLUMN env TEXT NOT NULL DEFAULT ''; ALTER TABLE releases ADD COLUMN cause TEXT NOT NULL DEFAULT ''; ALTER TABLE quarantine ADD COLUMN env TEXT NOT NULL DEFAULT ''",
        // Data snapshots, each named after the release it was taken for and recording the live
        // release whose data it holds; and whether a release's release step has run.
        """
        CREATE TABLE snapshots(
            id INTEGER PRIMARY KEY, app TEXT NOT NULL, name TEXT NOT NULL, release_id INTEGER NOT NULL,
            holds_id INTEGER, created REAL NOT NULL);
        CREATE INDEX snapshots_app ON snapshots(app, id);
        ALTER TABLE releases ADD COLUMN release_step INTEGER NOT NULL DEFAULT 0
        """,
        // Apps gone from agent.conf with no jail left, since when: their mirror, caches,
        // artifacts and logs go after a grace period (RemovedApps).
        "CREATE TABLE removed_apps(app TEXT PRIMARY KEY, since REAL NOT NULL)",
        // How each app's live release is served (ServedRoute), written by the flip.
        """
        CREATE TABLE served_routes(
            app TEXT PRIMARY KEY, hostnames TEXT NOT NULL, port INTEGER NOT NULL, service TEXT NOT NULL, reach TEXT NOT NULL)
        """,
        // A refused commit's quarantine holds while the app's keys and allow_rewind are what they
        // were (CommitGate.stamp); a build or health failure has none.
        "ALTER TABLE quarantine ADD COLUMN gate TEXT NOT NULL DEFAULT ''",
        // Each app's commit mark (CommitMark), and the generation a release raises it to once it
        // is live past probation (0: it does not, a rollback or a pin back).
        """
        CREATE TABLE commit_marks(app TEXT PRIMARY KEY, sha TEXT NOT NULL, generation INTEGER NOT NULL);
        ALTER TABLE releases ADD COLUMN mark INTEGER NOT NULL DEFAULT 0
        """,
        // Each app's timeline (Transition): every flip, failure and refusal, never rewritten.
        """
        CREATE TABLE transitions(
            id INTEGER PRIMARY KEY, ts REAL NOT NULL, app TEXT NOT NULL, from_sha TEXT, to_sha TEXT NOT NULL,
            cause TEXT NOT NULL, actor TEXT NOT NULL, outcome TEXT NOT NULL, phases TEXT NOT NULL, detail TEXT NOT NULL);
        CREATE INDEX transitions_app ON transitions(app, id)
        """,
        // Notifications waiting for their receivers (Notifier), kept across restarts.
        """
        CREATE TABLE outbox(
            id INTEGER PRIMARY KEY, target TEXT NOT NULL, created REAL NOT NULL, event TEXT NOT NULL, body TEXT NOT NULL,
            attempts INTEGER NOT NULL, next_at REAL NOT NULL, last_error TEXT NOT NULL);
        CREATE INDEX outbox_due ON outbox(next_at)
        """,
        // A delivery id no store ever hands out twice (row ids are reused once a row goes, and a
        // receiver that drops duplicates would drop the later one), the timeline entry the event
        // ended, and the receiver's order.
        """
        ALTER TABLE outbox ADD COLUMN delivery TEXT NOT NULL DEFAULT '';
        ALTER TABLE outbox ADD COLUMN transition INTEGER NOT NULL DEFAULT 0;
        UPDATE outbox SET delivery = lower(hex(randomblob(16)));
        CREATE INDEX outbox_order ON outbox(target, id)
        """,
        // What each host exports every 30 s asks the timeline by outcome (flip-backs, when a
        // commit went live): without it, a scan of up to 10,000 entries per app.
        "CREATE INDEX transitions_outcome ON transitions(app, outcome, to_sha)",
        // The port each release listens on: the route follows the release (a port change is a
        // new release, and a rollback goes back to the old port). NULL: made before, the app's.
        "ALTER TABLE releases ADD COLUMN port INTEGER",
    ]

    private func migrate() throws {
        let version = Int(try db.query("PRAGMA user_version").first?.first?.int ?? 0)
        guard version < Self.migrations.count else { return }
        for (index, sql) in Self.migrations.enumerated() where index >= version {
            try db.execute("BEGIN IMMEDIATE; \(sql); PRAGMA user_version = \(index + 1); COMMIT")
        }
    }
}
