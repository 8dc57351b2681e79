/// A release's jail, dataset and config name: `<app>_<sha12>`, or `<app>_<sha12>_<env8>` when
/// the release has an environment. The one place names are printed and parsed.
///
/// App names may hold `_` (Names.appNameProblem), so a name is read from its end: an 8-hex
/// last part is the environment digest and the 12-hex part before it the commit; a 12-hex last
/// part is the commit of a release without one. The two never read alike (8 is not 12).
public struct ReleaseName: Sendable, Equatable, CustomStringConvertible {
    public var app: String
    /// The commit's first 12 hex digits.
    public var sha12: String
    /// The environment digest (AppEnvironment.digest); "" for none.
    public var env: String

    /// The name of `app`'s release of `sha` (a full or 12-digit commit id) with environment `env`.
    public init(app: String, sha: String, env: String = "") {
        self.app = app
        sha12 = String(sha.prefix(12))
        self.env = env
    }

    /// The parts of `text`, or nil when it is not a release name.
    public init?(parsing text: String) {
        let parts = text.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count >= 2 else { return nil }
        var env = ""
        var rest = parts[...]
        if let last = rest.last, Names.isLowerHex(last, count: 8), rest.count >= 3 {
            env = String(last)
            rest = rest.dropLast()
        }
        guard let sha = rest.last, Names.isLowerHex(sha, count: 12) else { return nil }
        let app = rest.dropLast().joined(separator: "_")
        guard Names.appNameProblem(app) == nil else { return nil }
        self.init(app: app, sha: String(sha), env: env)
    }

    /// The name as jails, datasets and files carry it.
    public var text: String { "\(app)_\(sha12)" + (env.isEmpty ? "" : "_\(env)") }

    public var description: String { text }
}
