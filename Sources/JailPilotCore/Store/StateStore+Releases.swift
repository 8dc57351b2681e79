import FoundationEssentials

extension StateStore {
    static let releaseColumns =
        "id, app, sha, state, address, step, reason, created, updated, phases, probation_of, env, cause, release_step, mark, port"

    /// Creates a release row in the table's first state (`ReleaseState.first`: its commit is
    /// built) and returns it. `env` is its environment's digest (never a value); `cause` says
    /// why it was made. Every later state is reached through `update` and `flip`, which the
    /// transition table checks.
    public func createRelease(
        app: String, sha: String, address: String?, env: String = "", cause: String = "", mark: Int = 0, port: Int? = nil
    ) throws -> Release {
        let now = clock.date.timeIntervalSince1970
        return try locked { db in
            try Self.insert(db, app: app, sha: sha, address: address, env: env, cause: cause, mark: mark, port: port, now: now)
        }
    }

    /// Creates a release row (in `ReleaseState.first`) with the first free address of `pool`, in
    /// one transaction: two deploys at once (parallel watchers, or the agent and a CLI command)
    /// never get the same one.
    public func createRelease(
        app: String, sha: String, allocating pool: AddressPool, excluding inUse: Set<String>, env: String = "",
        cause: String = "", mark: Int = 0, port: Int? = nil
    ) throws -> Release {
        let now = clock.date.timeIntervalSince1970
        let marks = AddressPool.holding.map { _ in "?" }.joined(separator: ", ")
        return try transaction { db in
            let held = try db.query(
                "SELECT address FROM releases WHERE state IN (\(marks)) AND address IS NOT NULL",
                AddressPool.holding.map { .text($0.rawValue) }
            ).compactMap { $0.first?.string }
            let address = try pool.pick(held: held, inUse: inUse)
            return try Self.insert(
                db, app: app, sha: sha, address: address, env: env, cause: cause, mark: mark, port: port, now: now)
        }
    }

    private static func insert(
        _ db: SQLiteConnection, app: String, sha: String, address: String?, env: String, cause: String, mark: Int, port: Int?,
        now: Double
    ) throws -> Release {
        try db.query(
            "INSERT INTO releases(app, sha, name, state, address, created, updated, env, cause, mark, port) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                .text(app), .text(sha), .text(ReleaseName(app: app, sha: sha, env: env).text), .text(ReleaseState.first.rawValue),
                address.map(SQLValue.text) ?? .null, .real(now), .real(now), .text(env), .text(cause), .int(Int64(mark)),
                port.map { .int(Int64($0)) } ?? .null,
            ])
        let id = try db.query("SELECT last_insert_rowid()").first?.first?.int ?? 0
        return try existing(db, id: id, wanted: "create")
    }

    /// Moves a release to `state`, optionally recording the failing step, a reason or phase timings.
    @discardableResult
    public func update(
        _ release: Release, state: ReleaseState, address: String?? = nil, step: String? = nil, reason: String? = nil,
        phases: [(String, Double)]? = nil
    ) throws -> Release {
        try locked { db in
            let current = try Self.requireMove(db, release.id, to: state)
            var sets = ["state = ?", "updated = ?"]
            // Probation and draining end with the state they belong to (ReleaseCondition).
            if current.state != state, current.isDraining, step == nil { sets.append("step = NULL") }
            if current.state != state { sets.append("probation_of = NULL") }
            var values: [SQLValue] = [.text(state.rawValue), .real(clock.date.timeIntervalSince1970)]
            if let address { sets.append("address = ?"); values.append(address.map(SQLValue.text) ?? .null) }
            if let step { sets.append("step = ?"); values.append(.text(step)) }
            if let reason { sets.append("reason = ?"); values.append(.text(reason)) }
            if let phases {
                sets.append("phases = ?")
                values.append(.text(phases.map { Logfmt.pair($0, String.fixed($1, digits: 3)) }.joined(separator: " ")))
            }
            values.append(.int(release.id))
            try db.query("UPDATE releases SET \(sets.joined(separator: ", ")) WHERE id = ?", values)
            return try Self.existing(db, id: release.id, wanted: state.rawValue)
        }
    }

    /// Every release of `app`, newest first.
    public func releases(app: String) throws -> [Release] {
        try locked { db in
            try db.query("SELECT \(Self.releaseColumns) FROM releases WHERE app = ? ORDER BY id DESC", [.text(app)]).map {
                try Self.release($0)
            }
        }
    }

    /// Releases of any app in one of `states`, newest first.
    public func releases(in states: [ReleaseState]) throws -> [Release] {
        let marks = states.map { _ in "?" }.joined(separator: ", ")
        return try locked { db in
            try db.query(
                "SELECT \(Self.releaseColumns) FROM releases WHERE state IN (\(marks)) ORDER BY id DESC",
                states.map { .text($0.rawValue) }
            ).map { try Self.release($0) }
        }
    }

    /// The live release of `app`, if any.
    public func live(app: String) throws -> Release? {
        // Asked at every poll of every app: one row, not all the app's releases parsed.
        try locked { db in
            try db.query(
                "SELECT \(Self.releaseColumns) FROM releases WHERE app = ? AND state = ? ORDER BY id DESC LIMIT 1",
                [.text(app), .text(ReleaseState.live.rawValue)]
            ).first.map { try Self.release($0) }
        }
    }

    /// The row's current state (not a caller's copy of it), if it may move to `state`; throws
    /// when it may not, or when the row is missing.
    @discardableResult
    static func requireMove(_ db: SQLiteConnection, _ id: Int64, to state: ReleaseState) throws -> Release {
        let current = try existing(db, id: id, wanted: state.rawValue)
        guard current.state.canMove(to: state) else {
            throw ReleaseTransitionError(release: "\(current.name) (id \(id))", from: current.state, to: state)
        }
        return current
    }

    /// The row's current state, if it may take `condition` on (it is in the condition's state).
    @discardableResult
    static func requireCondition(_ db: SQLiteConnection, _ id: Int64, _ condition: ReleaseCondition) throws -> Release {
        let current = try existing(db, id: id, wanted: condition.rawValue)
        guard current.state == condition.state else {
            throw ReleaseTransitionError(
                release: "\(current.name) (id \(id))", from: current.state, to: condition.state, condition: condition)
        }
        return current
    }

    /// The row with `id`; a missing one is an error naming what was asked, never a crash.
    static func existing(_ db: SQLiteConnection, id: Int64, wanted: String) throws -> Release {
        guard let release = try release(db, id: id) else { throw ReleaseMissingError(id: id, wanted: wanted) }
        return release
    }

    static func release(_ db: SQLiteConnection, id: Int64) throws -> Release? {
        try db.query("SELECT \(releaseColumns) FROM releases WHERE id = ?", [.int(id)]).first.map { try release($0) }
    }

    /// A row as a Release; a state this version does not know is an error naming the row.
    static func release(_ row: [SQLValue]) throws -> Release {
        let id = row[0].int ?? 0
        let app = row[1].string ?? ""
        let sha = row[2].string ?? ""
        let env = row[11].string ?? ""
        let stored = row[3].string ?? ""
        guard let state = ReleaseState(rawValue: stored) else {
            throw UnknownReleaseStateError(id: id, name: ReleaseName(app: app, sha: sha, env: env).text, state: stored)
        }
        return Release(
            id: id, app: app, sha: sha, state: state, address: row[4].string, step: row[5].string,
            reason: row[6].string, created: Date(timeIntervalSince1970: row[7].double ?? 0),
            updated: Date(timeIntervalSince1970: row[8].double ?? 0),
            phases: Logfmt.parse(row[9].string ?? "").map { ($0, Double($1) ?? 0) }, probationOf: row[10].int,
            env: env, cause: row[12].string ?? "", releaseStepRan: (row[13].int ?? 0) != 0,
            mark: Int(row[14].int ?? 0), port: row[15].int.map { Int($0) })
    }

    /// Notes that a standby release is draining (ReleaseCondition.draining), leaving `updated`,
    /// the time it was replaced, as it is: the drain deadline counts from there.
    @discardableResult
    public func markDraining(_ release: Release) throws -> Release {
        try locked { db in
            try Self.requireCondition(db, release.id, .draining)
            try db.query(
                "UPDATE releases SET step = ? WHERE id = ?", [.text(ReleaseCondition.draining.rawValue), .int(release.id)])
            return try Self.existing(db, id: release.id, wanted: ReleaseCondition.draining.rawValue)
        }
    }

    /// Takes the live `release` out of the route for a stop-first swap (ReleaseCondition.swappedOut):
    /// the route table no longer names it, so Caddy holds new requests until the flip.
    @discardableResult
    public func markSwappedOut(_ release: Release) throws -> Release {
        try locked { db in
            try Self.requireCondition(db, release.id, .swappedOut)
            try db.query(
                "UPDATE releases SET step = ? WHERE id = ?", [.text(ReleaseCondition.swappedOut.rawValue), .int(release.id)])
            return try Self.existing(db, id: release.id, wanted: ReleaseCondition.swappedOut.rawValue)
        }
    }

    /// Puts a swapped-out live release back in the route (the swap did not happen).
    @discardableResult
    public func endSwap(_ release: Release) throws -> Release {
        try locked { db in
            try db.query(
                "UPDATE releases SET step = NULL WHERE id = ? AND state = ? AND step = ?",
                [.int(release.id), .text(ReleaseState.live.rawValue), .text(ReleaseCondition.swappedOut.rawValue)])
            return try Self.existing(db, id: release.id, wanted: "live")
        }
    }

    /// Records that the release step of `release` is about to run (ReleaseCondition.releaseStepRan):
    /// from here on a flip-back could undo what it did to the data.
    @discardableResult
    public func markReleaseStepRan(_ release: Release) throws -> Release {
        try locked { db in
            try Self.requireCondition(db, release.id, .releaseStepRan)
            try db.query("UPDATE releases SET release_step = 1 WHERE id = ?", [.int(release.id)])
            return try Self.existing(db, id: release.id, wanted: ReleaseCondition.releaseStepRan.rawValue)
        }
    }

    /// Whether any release was ever recorded (an empty store over existing jails was lost).
    public func hasReleases() throws -> Bool {
        try locked { db in try db.query("SELECT 1 FROM releases LIMIT 1").isEmpty == false }
    }

    /// The release with `id`, if any.
    public func release(id: Int64) throws -> Release? {
        try locked { db in try Self.release(db, id: id) }
    }

    /// Ends the probation of `release`: it no longer needs the release it replaced.
    @discardableResult
    public func endProbation(_ release: Release) throws -> Release {
        try transaction { db in
            try Self.requireCondition(db, release.id, .onProbation)
            try db.query("UPDATE releases SET probation_of = NULL WHERE id = ?", [.int(release.id)])
            let ended = try Self.existing(db, id: release.id, wanted: "probation ended")
            if ended.state == .live { try Self.raiseMark(db, for: ended) }
            return ended
        }
    }
}

extension StateStore {
    /// Makes `release` live and `old` standby in one transaction: a crash never leaves an app
    /// with two live releases or none. With `probation`, `release` records `old` as the one to
    /// flip back to until `endProbation`. `route` records how the app is served from now on.
    public func flip(to release: Release, from old: Release?, probation: Bool = false, route: ServedRoute? = nil) throws
        -> Release
    {
        let now = clock.date.timeIntervalSince1970
        return try transaction { db in
            if let route { try Self.record(route, db) }
            if let old, old.id != release.id { try Self.requireMove(db, old.id, to: .standby) }
            try Self.requireMove(db, release.id, to: .live)
            if let old, old.id != release.id {
                try db.query(
                    "UPDATE releases SET state = ?, updated = ?, probation_of = NULL, step = NULL WHERE id = ?",
                    [.text(ReleaseState.standby.rawValue), .real(now), .int(old.id)])
            }
            let previous: SQLValue = probation ? (old.map { .int($0.id) } ?? .null) : .null
            try db.query(
                "UPDATE releases SET state = ?, updated = ?, probation_of = ? WHERE id = ?",
                [.text(ReleaseState.live.rawValue), .real(now), previous, .int(release.id)])
            let live = try Self.existing(db, id: release.id, wanted: ReleaseState.live.rawValue)
            if !probation { try Self.raiseMark(db, for: live) }
            return live
        }
    }
}
