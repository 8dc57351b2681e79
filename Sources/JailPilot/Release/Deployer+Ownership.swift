import FoundationEssentials

/// state.db records no release, yet the host has jails this state_dir made: the database was
/// lost, truncated or replaced. Acting as if fresh would create over, or sweep away, live jails.
public struct StoreLostError: Error, Sendable, CustomStringConvertible {
    public var database: String
    public var jails: [String]

    public var description: String {
        "\(database) records no releases, but this host has \(jails.count) jail(s) made by this state_dir: "
            + jails.prefix(8).joined(separator: ", ") + (jails.count > 8 ? ", …" : "")
            + ". The state database was lost or replaced, so nothing was changed. Restore state.db from a backup; "
            + "or, to start afresh, destroy those jails by hand (docs/DESIGN.md, \"Ownership\")"
    }
}

extension Deployer {
    /// Refuses to act on an empty store while jails of this state_dir exist on the host.
    func requireStoreMatchesHost() async throws {
        guard try !store.hasReleases() else { return }
        let owned = await host.ownedJails()
        if !owned.isEmpty { throw StoreLostError(database: store.path, jails: owned.map(\.name)) }
    }

    /// Makes sure `spec.name` is free for a new jail: a leftover of ours that the store no longer
    /// accounts for is destroyed; anything else of that name is refused untouched.
    func claimName(_ spec: JailSpec, app: AppConfig) async throws {
        let ownership = await host.ownership(spec)
        switch ownership {
        case .absent:
            return
        case .ours:
            try await host.destroy(spec)
            log.emit(
                app: app.name, sha: spec.sha, "orphan.removed", [("jail", spec.name), ("why", "a leftover of an undone attempt")])
        case .unmarked, .other:
            throw NotOwnedError(name: spec.name, action: "create", ownership: ownership)
        }
    }

    /// Jails of this state_dir that the store has no row of and whose commit mark is as new as
    /// the store's or newer: made after this state.db was copied (it was restored from a backup).
    /// The sweep keeps them (one may be what really serves), and the agent says so at every start
    /// until an operator removes them: the first start recovers their mark into the store, so
    /// "newer" alone would let the second start sweep them.
    public func jailsNewerThanStore() async -> [OwnedJail] {
        let recorded = Set(((try? store.releases(in: ReleaseState.allCases)) ?? []).map(\.name))
        var newer: [OwnedJail] = []
        for jail in await host.ownedJails() where !recorded.contains(jail.name) {
            guard let mark = jail.mark, let app = ReleaseName(parsing: jail.name)?.app else { continue }
            if mark.generation >= ((try? store.mark(app: app)) ?? nil)?.generation ?? 0 { newer.append(jail) }
        }
        return newer
    }

    /// After a crash: marks the recorded jails made before owner markers, then destroys every
    /// jail of this state_dir that the store does not account for (undone attempts, namespaces
    /// a stop left behind), only of `app` when given, but none named in `keeping`. Does nothing
    /// if the store looks lost.
    public func sweepOrphans(app: String? = nil, keeping: Set<String> = []) async throws {
        try await requireStoreMatchesHost()
        let recorded = try store.releases(in: ReleaseState.allCases.filter(\.hasJail))
        for release in recorded where app == nil || release.app == app {
            let spec = JailSpec(found: release.name, service: serviceName(release.app))
            if await host.ownership(spec) == .unmarked { try? await host.adopt(spec) }
        }
        let accounted = Set(recorded.map(\.name))
        for jail in await host.ownedJails() where !accounted.contains(jail.name) && !keeping.contains(jail.name) {
            let spec = JailSpec(found: jail.name, service: serviceName(spec: jail.name))
            guard app == nil || spec.app == app else { continue }
            do {
                try await host.destroy(spec)
                log.emit(
                    app: spec.app, "orphan.removed",
                    [("jail", jail.name), ("what", jail.hasFilesystem ? "jail" : "network namespace")])
            } catch {
                log.emit(app: spec.app, "orphan.remove_failed", [("jail", jail.name), ("error", "\(error)")])
            }
        }
    }

    private func serviceName(_ app: String) -> String { runtime.config.app(app)?.service ?? app }
    private func serviceName(spec name: String) -> String { serviceName(ReleaseName(parsing: name)?.app ?? "") }
}
