/// Where everything lives under `state_dir`.
public struct StateLayout: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    public func mirror(_ app: String) -> String { "\(root)/mirrors/\(app).git" }
    public func artifactDir(_ app: String, _ sha: String) -> String { "\(root)/artifacts/\(app)/\(sha)" }
    /// Where the build of `app` at `sha` leaves its binary.
    public func artifact(_ app: AppConfig, _ sha: String) -> String { "\(artifactDir(app.name, sha))/\(app.service)" }
    public var staging: String { "\(root)/staging" }
    /// One app's build caches and home: never shared, so that one app's build cannot plant
    /// compiled packages or module sources in another's.
    public func buildCache(_ app: String) -> String { "\(root)/cache/\(app)" }
    public func goBuildCache(_ app: String) -> String { "\(buildCache(app))/go-build" }
    public func goModCache(_ app: String) -> String { "\(buildCache(app))/gomod" }
    public func goPath(_ app: String) -> String { "\(buildCache(app))/gopath" }
    public func home(_ app: String) -> String { "\(buildCache(app))/home" }
    public func logs(_ app: String) -> String { "\(root)/logs/\(app)" }
    public func buildLog(_ app: String, _ sha: String) -> String { "\(logs(app))/build-\(sha.prefix(12)).log" }
    public var lockFile: String { "\(root)/agent.lock" }
    /// Held while the jails' network policy is computed and loaded (one writer at a time).
    public var policyLock: String { "\(root)/policy.lock" }
}
