import FoundationEssentials
import JailPilot
import Synchronization

/// Builds in memory: a commit "builds" into a small artifact file under state_dir (so retention
/// has real files to keep or remove) unless it is marked as failing. It keeps each app's
/// history (every push's parent is the head before it) and which commits are signed by whom,
/// so the real CommitGate runs over it.
public final class FakeSource: SourceBuilding, CommitHistory, BranchHeads, Sendable {
    struct State {
        var heads: [String: String] = [:]
        /// Other branches of an app's remote ("app/branch" → head): a `promoted_from` ring.
        var rings: [String: String] = [:]
        var parents: [String: String] = [:]
        var failing: Set<String> = []
        /// Commit → the key that signed it (absent: unsigned).
        var signers: [String: String] = [:]
        /// App → the keys it trusts.
        var trusted: [String: Set<String>] = [:]
        var builds = 0
        /// Runs at the start of every build (a build that hangs, or tells the test it began).
        var buildHook: (@Sendable (String) async -> Void)?
        /// Runs at every poll of an app's heads, with the app's name.
        var pollHook: (@Sendable (String) async -> Void)?
    }
    private let state = Mutex(State())
    let layout: StateLayout

    public init(layout: StateLayout) { self.layout = layout }

    /// Makes `sha` the branch head of `app` (any app: nil), a child of the head before it;
    /// `signedBy` signs it with that key.
    public func push(_ sha: String, app: String? = nil, signedBy key: String? = nil) {
        state.withLock { state in
            let name = app ?? "*"
            if let parent = state.heads[name], parent != sha, state.parents[sha] == nil { state.parents[sha] = parent }
            state.heads[name] = sha
            if let key { state.signers[sha] = key }
        }
    }

    /// Makes `sha` the head of `app`'s other branch `branch` (a ring's), a child of that
    /// branch's head before it.
    public func push(_ sha: String, app: String, branch: String) {
        state.withLock { state in
            let key = "\(app)/\(branch)"
            if let parent = state.rings[key], parent != sha, state.parents[sha] == nil { state.parents[sha] = parent }
            state.rings[key] = sha
        }
    }

    /// Force-pushes the branch back to `sha` (an older commit: its ancestry stays what it was).
    public func reset(_ app: String? = nil, to sha: String) { state.withLock { $0.heads[app ?? "*"] = sha } }
    /// `app` trusts exactly `keys` from now on (its allowed_signers file rewritten).
    public func trust(_ keys: Set<String>, app: String) { state.withLock { $0.trusted[app] = keys } }
    /// Builds of `sha` fail (as a compile error does).
    public func breakBuild(_ sha: String) { state.withLock { _ = $0.failing.insert(sha) } }
    /// Builds so far.
    public var builds: Int { state.withLock { $0.builds } }
    /// Every build from now on first runs `hook` with its commit (nil: none).
    public func onBuild(_ hook: (@Sendable (String) async -> Void)?) { state.withLock { $0.buildHook = hook } }
    /// Every poll of an agent's watcher from now on first runs `hook` with the app's name (nil:
    /// none). A watcher polls first after the agent's start-up recovery.
    public func onPoll(_ hook: (@Sendable (String) async -> Void)?) { state.withLock { $0.pollHook = hook } }

    public func fetch(_ app: AppConfig, sha: String?) async throws -> String {
        state.withLock { sha ?? app.pin ?? $0.heads[app.name] ?? $0.heads["*"] ?? "" }
    }

    public func build(_ app: AppConfig, commit: String) async throws -> BuildOutcome {
        await state.withLock { $0.buildHook }?(commit)
        let fails = state.withLock { state -> Bool in
            state.builds += 1
            return state.failing.contains(commit)
        }
        let log = "\(layout.logs(app.name))/build-\(commit.prefix(12)).log"
        try FileIO.makeDirectories(layout.logs(app.name))
        try FileIO.replace(log, text: fails ? "main.go:1: syntax error\n" : "ok\n")
        if fails { throw BuildError.failed(app: app.name, sha: commit, status: 1, log: log, tail: "main.go:1: syntax error") }
        let artifact = layout.artifact(app, commit)
        try FileIO.makeDirectories(FileIO.parent(artifact))
        try FileIO.replace(artifact, text: "#!/bin/sh\n# \(commit)\n", mode: 0o755)
        return BuildOutcome(artifact: artifact, log: log, reused: false, took: .milliseconds(1))
    }

    public var gate: any CommitChecking { CommitGate { [self] _ in self } }

    /// The ancestors of `sha`, nearest first.
    func ancestors(_ sha: String) -> [String] {
        state.withLock { state in
            var chain: [String] = []
            var next = state.parents[sha]
            while let commit = next, !chain.contains(commit) {
                chain.append(commit)
                next = state.parents[commit]
            }
            return chain
        }
    }

    public func descends(_ sha: String, from ancestor: String) async throws -> Bool {
        sha == ancestor || ancestors(sha).contains(ancestor)
    }

    public func commits(to head: String, since base: String?, limit: Int) async throws -> [String]? {
        let chain = [head] + ancestors(head)
        let range = base.flatMap { chain.firstIndex(of: $0) }.map { Array(chain[..<$0]) } ?? chain
        return range.count > limit ? nil : Array(range.reversed())
    }

    /// What an agent's watcher polls: the app's head and its ring's, as pushed here.
    package func heads(of app: AppConfig) async throws -> (head: String, ring: String?) {
        await state.withLock { $0.pollHook }?(app.name)
        let heads = state.withLock { state in
            (state.heads[app.name] ?? state.heads["*"], app.promotedFrom.flatMap { state.rings["\(app.name)/\($0)"] })
        }
        guard let head = heads.0 else {
            throw GitWatchError.branchMissing(branch: app.branch, url: app.repo, available: [])
        }
        return (head, heads.1)
    }

    public func head(of branch: String, app: AppConfig) async -> String? {
        state.withLock { $0.rings["\(app.name)/\(branch)"] }
    }

    public func verifySignature(_ app: AppConfig, commit: String) async throws {
        let (signer, trusted, others) = state.withLock { state in
            (state.signers[commit], state.trusted[app.name] ?? [], state.trusted.filter { $0.key != app.name })
        }
        guard let signer else { throw CommitRefusal(app: app.name, sha: commit, reason: .unsigned, detail: "no signature") }
        if trusted.contains(signer) { return }
        if let other = others.first(where: { $0.value.contains(signer) }) {
            throw CommitRefusal(
                app: app.name, sha: commit, reason: .keyOfAnotherApp, detail: "signed by a key allowed for \(other.key)")
        }
        throw CommitRefusal(app: app.name, sha: commit, reason: .unknownKey, detail: "signed by \(signer)")
    }
}
