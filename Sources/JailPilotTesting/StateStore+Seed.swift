import FoundationEssentials
import JailPilot

extension StateStore {
    /// A release row in `state` for a test, made as the product makes one: created in the
    /// table's first state and moved along the transition table to `state`.
    @discardableResult
    public func seedRelease(
        app: String, sha: String, state: ReleaseState, address: String?, env: String = "", cause: String = "", mark: Int = 0
    ) throws -> Release {
        var release = try createRelease(app: app, sha: sha, address: address, env: env, cause: cause, mark: mark)
        let path: [ReleaseState] =
            switch state {
            case .built: []
            case .provisioned: [.provisioned]
            case .starting: [.provisioned, .starting]
            case .healthy: [.provisioned, .starting, .healthy]
            case .live: [.provisioned, .starting, .healthy, .live]
            case .standby: [.provisioned, .starting, .healthy, .live, .standby]
            case .retired: [.provisioned, .starting, .healthy, .live, .retired]
            case .failed: [.failed]
            case .destroyed: [.destroyed]
            }
        for next in path { release = try update(release, state: next) }
        return release
    }
}
