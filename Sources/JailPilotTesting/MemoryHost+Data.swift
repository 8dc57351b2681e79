import JailPilot

/// The data volume side of the memory host: volumes and snapshots as names.
extension MemoryHost {
    public func dataPlan(app: String) -> [HostStep] { [.note("memory: data volume of \(app)")] }

    public func dataSteps(app: String) async -> [HostStep] {
        state.withLock { $0.volumes.contains(app) } ? [] : dataPlan(app: app)
    }

    public func ensureData(app: String) async throws {
        for step in await dataSteps(app: app) { recorder?.record(step) }
        state.withLock { _ = $0.volumes.insert(app) }
    }

    public func destroyDataSteps(app: String) async -> [HostStep] {
        state.withLock { $0.volumes.contains(app) } ? [.note("memory: destroy data volume of \(app) and its snapshots")] : []
    }

    public func destroyData(app: String) async throws {
        for step in await destroyDataSteps(app: app) { recorder?.record(step) }
        state.withLock {
            $0.volumes.remove(app)
            $0.snapshots[app] = nil
        }
    }

    public func snapshotPlan(app: String, name: String) -> [HostStep] { [.note("memory: snapshot \(app)@\(name)")] }

    public func snapshotData(app: String, name: String) async throws {
        for step in snapshotPlan(app: app, name: name) { recorder?.record(step) }
        state.withLock { $0.snapshots[app, default: []].append(name) }
    }

    public func hasSnapshot(app: String, name: String) async -> Bool {
        state.withLock { $0.snapshots[app]?.contains(name) ?? false }
    }

    public func destroySnapshotSteps(app: String, name: String) async -> [HostStep] {
        await hasSnapshot(app: app, name: name) ? [.note("memory: destroy snapshot \(app)@\(name)")] : []
    }

    public func destroySnapshot(app: String, name: String) async throws {
        for step in await destroySnapshotSteps(app: app, name: name) { recorder?.record(step) }
        state.withLock { $0.snapshots[app]?.removeAll { $0 == name } }
    }

    public func restorePlan(app: String, name: String, newer: [String]) -> [HostStep] {
        [.note("memory: restore \(app)@\(name), destroying \(newer.joined(separator: " "))")]
    }

    public func restoreData(app: String, name: String, newer: [String]) async throws {
        for step in restorePlan(app: app, name: name, newer: newer) { recorder?.record(step) }
        state.withLock { $0.snapshots[app]?.removeAll { newer.contains($0) } }
    }

    public func releaseStepPlan(_ spec: JailSpec, argv: [String]) -> [HostStep] {
        [.note("memory: release step \(argv.joined(separator: " ")) in \(spec.name)")]
    }

    public func runReleaseStep(_ spec: JailSpec, argv: [String], timeout: Duration) async throws -> ProcessResult {
        for step in releaseStepPlan(spec, argv: argv) { recorder?.record(step) }
        return ProcessResult(status: state.withLock { $0.releaseStepStatus })
    }
}
