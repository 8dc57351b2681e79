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
public protocol SourceBuilding: Sendable {
    /// Builds `sha` (else the pin, else the branch head); returns the commit and the artifact.
    func build(_ app: AppConfig, sha: String?) async throws -> (sha: String, build: BuildOutcome)
}

extension SourcePipeline: SourceBuilding {}
