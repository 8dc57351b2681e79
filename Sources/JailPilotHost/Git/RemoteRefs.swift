import CGit2
import JailPilotCore

/// One ref a remote advertises.
public struct RemoteRef: Sendable, Hashable {
    /// Full name, e.g. `refs/heads/main`.
    public var name: String
    /// The 40-hex object id it points at.
    public var sha: String

    public init(name: String, sha: String) {
        self.name = name
        self.sha = sha
    }
}

/// Lists a remote's refs through libgit2: the `git ls-remote` equivalent.
public struct RemoteRefs: Sendable {
    public init() {}

    /// Every ref the remote advertises, skipping names that fail validation.
    public func list(_ access: RemoteAccess) async throws -> [RemoteRef] {
        try await withDeadline(access.listTimeout, "remote \(access.redactedURL)") {
            try await blocking { try Self.listBlocking(access) }
        }
    }

    /// The head of `branch`, or `GitWatchError.branchMissing`.
    public func head(of branch: String, at access: RemoteAccess) async throws -> String {
        try await heads(of: branch, and: nil, at: access).head
    }

    /// The heads of `branch` (or `GitWatchError.branchMissing`) and of `other` (nil when the
    /// remote has no such branch), from one listing: a ring's ref costs no extra round trip.
    public func heads(of branch: String, and other: String?, at access: RemoteAccess) async throws -> (
        head: String, other: String?
    ) {
        let refs = try await list(access)
        let otherHead = other.flatMap { name in refs.first { $0.name == "refs/heads/\(name)" }?.sha }
        if let ref = refs.first(where: { $0.name == "refs/heads/\(branch)" }) { return (ref.sha, otherHead) }
        let branches = refs.compactMap { $0.name.hasPrefix("refs/heads/") ? String($0.name.dropFirst(11)) : nil }
        throw GitWatchError.branchMissing(branch: branch, url: access.redactedURL, available: branches)
    }

    static func listBlocking(_ access: RemoteAccess) throws -> [RemoteRef] {
        Libgit2.ensure()
        try Self.checkScheme(access)
        var remote: OpaquePointer?
        try git("git_remote_create_detached") { git_remote_create_detached(&remote, access.url) }
        defer { git_remote_free(remote) }
        let context = GitCallbacks(access: access)
        var callbacks = git_remote_callbacks()
        git_remote_init_callbacks(&callbacks, UInt32(GIT_REMOTE_CALLBACKS_VERSION))
        context.install(into: &callbacks)
        do {
            try git("git_remote_connect", hint: "is the remote \(access.redactedURL) reachable?") {
                git_remote_connect(remote, GIT_DIRECTION_FETCH, &callbacks, nil, nil)
            }
        } catch let error as GitError {
            throw context.error(error)
        }
        defer { git_remote_disconnect(remote) }
        var heads: UnsafeMutablePointer<UnsafePointer<git_remote_head>?>?
        var count = 0
        try git("git_remote_ls") { git_remote_ls(&heads, &count, remote) }
        var refs: [RemoteRef] = []
        for i in 0..<count {
            guard let head = heads?[i]?.pointee, let cname = head.name else { continue }
            let name = String(cString: cname)
            guard name == "HEAD" || Names.refNameProblem(name) == nil else { continue }
            refs.append(RemoteRef(name: name, sha: head.oid.hex))
        }
        return withExtendedLifetime(context) { refs }
    }

    static func checkScheme(_ access: RemoteAccess) throws {
        if let problem = Names.repoProblem(access.url) {
            throw GitWatchError.badURL(url: access.redactedURL, problem: problem)
        }
        if Names.isSSH(access.url) && !Libgit2.hasSSH {
            throw GitWatchError.badURL(url: access.redactedURL, problem: "needs SSH, but this libgit2 was built without it")
        }
    }
}

/// Problems watching or fetching a remote, beyond libgit2's own errors.
public enum GitWatchError: Error, Sendable, CustomStringConvertible {
    case badURL(url: String, problem: String)
    case branchMissing(branch: String, url: String, available: [String])
    case commitNotFound(sha: String, branch: String, url: String)
    case ambiguous(sha: String)
    case unsafeTree(path: String, reason: String)

    public var description: String {
        switch self {
        case .badURL(let url, let problem):
            return "remote \(url) \(problem)"
        case .branchMissing(let branch, let url, let available):
            let list = available.isEmpty ? "it has no branches" : "it has: " + available.prefix(10).joined(separator: ", ")
            return "branch '\(branch)' does not exist on \(url) (\(list)); fix branch in agent.conf or push the branch"
        case .commitNotFound(let sha, let branch, let url):
            return
                "commit \(sha) is not on branch '\(branch)' of \(url) after fetching it; pin a commit that is on the branch, or push it there"
        case .ambiguous(let sha):
            return "'\(sha)' matches more than one object; give more hex digits"
        case .unsafeTree(let path, let reason):
            return "refusing to export tree entry '\(path)': \(reason)"
        }
    }
}
