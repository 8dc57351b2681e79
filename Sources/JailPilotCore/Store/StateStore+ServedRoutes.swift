import FoundationEssentials

extension StateStore {
    /// Records how `route.app` is served (inside the flip's transaction).
    static func record(_ route: ServedRoute, _ db: SQLiteConnection) throws {
        try db.query(
            "INSERT OR REPLACE INTO served_routes(app, hostnames, port, service, reach) VALUES (?, ?, ?, ?, ?)",
            [
                .text(route.app), .text(route.hostnames.joined(separator: "\n")), .int(Int64(route.port)), .text(route.service),
                .text(route.reach.map(\.description).joined(separator: " ")),
            ])
    }

    /// The routes of apps that have a live release, as recorded at their last flip.
    public func servedRoutesOfLiveApps() throws -> [ServedRoute] {
        try locked { db in
            try db.query(
                """
                SELECT s.app, s.hostnames, s.port, s.service, s.reach FROM served_routes s
                WHERE EXISTS (SELECT 1 FROM releases r WHERE r.app = s.app AND r.state = ?) ORDER BY s.app
                """, [.text(ReleaseState.live.rawValue)]
            ).compactMap { row in
                guard let app = row[0].string, let hostnames = row[1].string, let port = row[2].int, let service = row[3].string,
                    let reach = row[4].string
                else { return nil }
                return ServedRoute(
                    app: app, hostnames: hostnames.split(separator: "\n").map(String.init), port: Int(port), service: service,
                    reach: reach.split(separator: " ").compactMap { JailNetworkPolicy.Reach.parse(String($0)) })
            }
        }
    }
}
