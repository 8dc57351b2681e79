import FoundationEssentials
import JailPilot
import Synchronization

/// Builds in memory: a commit "builds" into a small artifact file under state_dir (so retention
/// has real files to keep or remove) unless it is marked as failing.
public final class FakeSource: SourceBuilding, Sendable {
    private let state = Mutex<(heads: [String: String], failing: Set<String>, builds: Int)>(([:], [], 0))
    let layout: StateLayout

    public init(layout: StateLayout) { self.layout = layout }

    /// The branch head the next build of `app` (any app: nil) without a SHA gets.
    public func push(_ sha: String, app: String? = nil) { state.withLock { $0.heads[app ?? "*"] = sha } }
    /// Builds of `sha` fail (as a compile error does).
    public func breakBuild(_ sha: String) { state.withLock { _ = $0.failing.insert(sha) } }
    /// Builds so far.
    public var builds: Int { state.withLock { $0.builds } }

    public func build(_ app: AppConfig, sha: String?) async throws -> (sha: String, build: BuildOutcome) {
        let (commit, fails) = state.withLock { state -> (String, Bool) in
            state.builds += 1
            let commit = sha ?? app.pin ?? state.heads[app.name] ?? state.heads["*"] ?? ""
            return (commit, state.failing.contains(commit))
        }
        let log = "\(layout.logs(app.name))/build-\(commit.prefix(12)).log"
        try FileIO.makeDirectories(layout.logs(app.name))
        try FileIO.replace(log, text: fails ? "main.go:1: syntax error\n" : "ok\n")
        if fails { throw BuildError.failed(app: app.name, sha: commit, status: 1, log: log, tail: "main.go:1: syntax error") }
        let artifact = layout.artifact(app, commit)
        try FileIO.makeDirectories(FileIO.parent(artifact))
        try FileIO.replace(artifact, text: "#!/bin/sh\n# \(commit)\n", mode: 0o755)
        return (commit, BuildOutcome(artifact: artifact, log: log, reused: false, took: .milliseconds(1)))
    }
}
