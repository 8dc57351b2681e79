/// Where everything lives under `state_dir`.
public struct StateLayout: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    public func mirror(_ app: String) -> String { "\(root)/mirrors/\(app).git" }
    public func artifactDir(_ app: String, _ sha: String) -> String { "\(root)/artifacts/\(app)/\(sha)" }
    /// Where the build of `app` at `sha` leaves its binary.
    public func artifact(_ app: AppConfig, _ sha: String) -> String { "\(artifactDir(app.name, sha))/\(app.service)" }
    public var staging: String { "\(root)/staging" }
    public var goBuildCache: String { "\(root)/cache/go-build" }
    public var goModCache: String { "\(root)/cache/gomod" }
    public var goPath: String { "\(root)/cache/gopath" }
    public var home: String { "\(root)/home" }
    public func logs(_ app: String) -> String { "\(root)/logs/\(app)" }
    public func buildLog(_ app: String, _ sha: String) -> String { "\(logs(app))/build-\(sha.prefix(12)).log" }
    public var lockFile: String { "\(root)/agent.lock" }
}
