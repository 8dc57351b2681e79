import JailPilot
import Synchronization

/// Health answers decided by the test: per commit, always 200, never, or 200 for the first N
/// requests and then 500 (a release that passes its gate and fails in probation).
public final class FakeHealth: HealthChecking, Sendable {
    /// How a commit's releases answer `GET /up`.
    public enum Verdict: Sendable {
        case healthy, never
        case failsAfter(Int)
    }

    let host: MemoryHost
    private let state = Mutex<(verdicts: [String: Verdict], asked: [String: Int])>(([:], [:]))

    public init(host: MemoryHost) { self.host = host }

    /// Releases of `sha` answer as `verdict` (others are healthy).
    public func set(_ sha: String, _ verdict: Verdict) { state.withLock { $0.verdicts[sha] = verdict } }
    /// Requests a commit's releases answered so far.
    public func asked(_ sha: String) -> Int { state.withLock { $0.asked[sha] ?? 0 } }

    public func check(_ app: AppConfig, address: String, port: Int, timeout: Duration) async -> String? {
        guard let jail = host.jails.values.first(where: { $0.running && $0.spec.address == address && $0.spec.app == app.name })
        else { return "GET \(app.health): connection refused" }
        let sha = jail.spec.sha
        return state.withLock { state in
            let asked = state.asked[sha, default: 0]
            state.asked[sha] = asked + 1
            switch state.verdicts[sha] ?? .healthy {
            case .healthy: return nil
            case .never: return "GET \(app.health) answered 503"
            case .failsAfter(let n): return asked < n ? nil : "GET \(app.health) answered 500"
            }
        }
    }
}
