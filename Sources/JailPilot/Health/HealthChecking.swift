/// One health request to a release: the seam between the release engine and the network.
public protocol HealthChecking: Sendable {
    /// nil when `GET <app.health>` on `address:port` answered 200, else what went wrong.
    func check(_ app: AppConfig, address: String, port: Int, timeout: Duration) async -> String?
}

/// The real request, over HTTP/1.1 (HTTPClient).
public struct HTTPHealthCheck: HealthChecking {
    public init() {}

    public func check(_ app: AppConfig, address: String, port: Int, timeout: Duration) async -> String? {
        do {
            let response = try await HTTPClient(timeout: timeout).send("GET", app.health, to: .tcp(host: address, port: port))
            return response.status == 200 ? nil : "GET \(app.health) answered \(response.status)"
        } catch {
            return "GET \(app.health): \(error)"
        }
    }
}

/// Fetches and builds one commit of an app: the seam between the release engine and git + go.
/// The deployer checks the commit (signatures, ancestry) between the two.
public protocol SourceBuilding: Sendable {
    /// Fetches the app's branch; returns the full SHA of `sha` (else the pin, else the branch head).
    func fetch(_ app: AppConfig, sha: String?) async throws -> String
    /// Builds `commit` (a full SHA `fetch` returned); returns the artifact.
    func build(_ app: AppConfig, commit: String) async throws -> BuildOutcome
    /// What the commit's signatures and ancestry allow (see CommitGate).
    var gate: any CommitChecking { get }
}

extension SourceBuilding {
    /// Fetches, resolves and builds, with no check between: `jailpilot build`.
    public func build(_ app: AppConfig, sha: String? = nil) async throws -> (sha: String, build: BuildOutcome) {
        let commit = try await fetch(app, sha: sha)
        return (commit, try await build(app, commit: commit))
    }
}

extension SourcePipeline: SourceBuilding {}
