import CGit2
import FoundationEssentials
import Glibc
import JailPilotCore

/// What one fetch transferred, from libgit2's transfer statistics.
public struct FetchStats: Sendable, Equatable {
    /// Objects received over the wire in this fetch (0 when nothing was new).
    public var receivedObjects: Int
    /// Objects the remote offered for this fetch.
    public var totalObjects: Int
    public var receivedBytes: Int
    /// The branch head after the fetch.
    public var head: String
}

/// A bare mirror of one app's tracked branch, kept under `state_dir/mirrors/`.
///
/// Only `refs/heads/<branch>` is fetched (force-pushes allowed: git is the truth), tags are not,
/// so a second fetch transfers only objects the mirror lacks.
public struct Mirror: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// Fetches `branch` (and `also`, when the remote has it) from `access` into the mirror,
    /// creating the mirror on first use.
    public func fetch(_ access: RemoteAccess, branch: String, also: String? = nil) async throws -> FetchStats {
        let path = self.path
        return try await withDeadline(access.fetchTimeout, "fetch from \(access.redactedURL)") {
            try await blocking { try Self.fetchBlocking(path: path, access: access, branch: branch, also: also) }
        }
    }

    /// The head of `branch` in the mirror, nil when it has none.
    public func head(of branch: String) async -> String? {
        let path = self.path
        return try? await blocking {
            try Self.withRepository(path) { repo in
                var head = git_oid()
                return git_reference_name_to_id(&head, repo, "refs/heads/\(branch)") == 0 ? head.hex : nil
            }
        }
    }

    /// The full SHA of `rev` (7–40 hex) if it is on `branch` in the mirror, else of the branch head.
    public func resolve(_ rev: String?, branch: String, url: String) async throws -> String {
        let path = self.path
        return try await blocking {
            try Self.withRepository(path) { repo in
                var head = git_oid()
                try git("git_reference_name_to_id") { git_reference_name_to_id(&head, repo, "refs/heads/\(branch)") }
                guard let rev else { return head.hex }
                var prefix = git_oid()
                try git("git_oid_fromstrn") { git_oid_fromstrn(&prefix, rev, rev.utf8.count) }
                var object: OpaquePointer?
                let rc = git_object_lookup_prefix(&object, repo, &prefix, rev.utf8.count, GIT_OBJECT_COMMIT)
                if rc == GIT_EAMBIGUOUS.rawValue { throw GitWatchError.ambiguous(sha: rev) }
                guard rc == 0, let object else { throw GitWatchError.commitNotFound(sha: rev, branch: branch, url: url) }
                defer { git_object_free(object) }
                var found = git_object_id(object)!.pointee
                // The commit must be the head or one of its ancestors: a pin off the branch is refused.
                if git_oid_equal(&found, &head) == 0 && git_graph_descendant_of(repo, &head, &found) != 1 {
                    throw GitWatchError.commitNotFound(sha: rev, branch: branch, url: url)
                }
                return found.hex
            }
        }
    }

    /// How many commits `head` is ahead of `base` (nil if unrelated or unknown here).
    public func commitsAhead(of base: String, head: String) async -> Int? {
        let path = self.path
        return try? await blocking {
            try Self.withRepository(path) { repo in
                var a = git_oid()
                var b = git_oid()
                guard git_oid_fromstr(&a, head) == 0, git_oid_fromstr(&b, base) == 0 else { return nil }
                var ahead = 0
                var behind = 0
                guard git_graph_ahead_behind(&ahead, &behind, repo, &a, &b) == 0 else { return nil }
                return ahead
            }
        }
    }

    static func fetchBlocking(path: String, access: RemoteAccess, branch: String, also: String? = nil) throws -> FetchStats {
        try RemoteRefs.checkScheme(access)
        for name in [branch] + (also.map { [$0] } ?? []) {
            if let problem = Names.branchProblem(name) { throw GitWatchError.badURL(url: access.redactedURL, problem: problem) }
        }
        return try withRepository(path, create: true) { repo in
            let remote = try Self.remote(in: repo, url: access.url)
            defer { git_remote_free(remote) }
            let context = GitCallbacks(access: access)
            var options = git_fetch_options()
            git_fetch_options_init(&options, UInt32(GIT_FETCH_OPTIONS_VERSION))
            context.install(into: &options.callbacks)
            options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE
            options.prune = GIT_FETCH_NO_PRUNE
            // The ring's ref (promoted_from) comes with the same fetch: its objects are mostly
            // the branch's. A refspec whose source the remote lacks fetches nothing, no error.
            let refspecs = ([branch] + (also.map { [$0] } ?? [])).map { "+refs/heads/\($0):refs/heads/\($0)" }
            var cRefspecs: [UnsafeMutablePointer<CChar>?] = refspecs.map { strdup($0) }
            defer { cRefspecs.forEach { free($0) } }
            let stats: git_indexer_progress = try cRefspecs.withUnsafeMutableBufferPointer { strings in
                var array = git_strarray(strings: strings.baseAddress, count: strings.count)
                do {
                    try git("git_remote_fetch", hint: "is the remote \(access.redactedURL) reachable?") {
                        git_remote_fetch(remote, &array, &options, "jailpilot: fetch \(branch)")
                    }
                } catch let error as GitError {
                    throw context.error(error)
                }
                return git_remote_stats(remote).pointee
            }
            // A ring branch the remote no longer has must not linger here: the gate would check
            // heads against its last state. git_remote_ls stays valid after the fetch's
            // disconnect (libgit2's remote.h).
            if let also {
                var heads: UnsafeMutablePointer<UnsafePointer<git_remote_head>?>?
                var count = 0
                if git_remote_ls(&heads, &count, remote) == 0 {
                    let advertised = (0..<count).contains { i in
                        heads?[i]?.pointee.name.map { String(cString: $0) } == "refs/heads/\(also)"
                    }
                    if !advertised {
                        var stale: OpaquePointer?
                        if git_reference_lookup(&stale, repo, "refs/heads/\(also)") == 0 {
                            git_reference_delete(stale)
                            git_reference_free(stale)
                        }
                    }
                }
            }
            var head = git_oid()
            guard git_reference_name_to_id(&head, repo, "refs/heads/\(branch)") == 0 else {
                throw GitWatchError.branchMissing(branch: branch, url: access.redactedURL, available: [])
            }
            return withExtendedLifetime(context) {
                FetchStats(
                    receivedObjects: Int(stats.received_objects), totalObjects: Int(stats.total_objects),
                    receivedBytes: stats.received_bytes, head: head.hex)
            }
        }
    }

    /// An unnamed remote for `url` in `repo`, with no url.*.insteadOf (or pushInsteadOf)
    /// rewriting: credentials go to the URL given, and skipping it also skips a config glob that
    /// leaks a PCRE2 match block per config entry in libgit2 < 1.6 (libgit2#6382): 350 KB per
    /// fetch, found with heaptrack. Free it with git_remote_free.
    static func remote(in repo: OpaquePointer, url: String) throws -> OpaquePointer? {
        var remote: OpaquePointer?
        var createOptions = git_remote_create_options()
        git_remote_create_options_init(&createOptions, UInt32(GIT_REMOTE_CREATE_OPTIONS_VERSION))
        createOptions.repository = repo
        createOptions.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF.rawValue | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC.rawValue
        try git("git_remote_create_with_opts") { git_remote_create_with_opts(&remote, url, &createOptions) }
        return remote
    }

    static func withRepository<T>(_ path: String, create: Bool = false, _ body: (OpaquePointer) throws -> T) throws -> T {
        Libgit2.ensure()
        var repo: OpaquePointer?
        if create && !FileIO.exists(path) {
            try FileIO.makeDirectories(FileIO.parent(path), mode: 0o700)
            try git("git_repository_init") { git_repository_init(&repo, path, 1) }
        } else {
            try git("git_repository_open_bare", hint: "the mirror at \(path) is damaged; delete it and it is fetched anew") {
                git_repository_open_bare(&repo, path)
            }
        }
        defer { git_repository_free(repo) }
        return try body(repo!)
    }
}
