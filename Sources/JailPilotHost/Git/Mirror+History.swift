import CGit2
import FoundationEssentials
import JailPilotCore

/// What the release engine asks of an app's history: signatures and ancestry.
extension Mirror {
    /// Commit `sha` read as git reads a signed commit (SignedCommit), from its raw object: not
    /// libgit2's `git_commit_extract_signature`, which reads some objects otherwise than git.
    public func signedCommit(_ sha: String) async throws -> SignedCommit {
        SignedCommit(object: try await rawCommit(sha))
    }

    /// The bytes of commit object `sha` as the object database holds them (`git_odb_read`),
    /// without the `commit <size>\0` of its storage; nothing of them is parsed.
    public func rawCommit(_ sha: String) async throws -> [UInt8] {
        let path = self.path
        return try await blocking {
            try Self.withRepository(path) { repo in
                var oid = try Self.oid(sha)
                var odb: OpaquePointer?
                try git("git_repository_odb") { git_repository_odb(&odb, repo) }
                defer { git_odb_free(odb) }
                var object: OpaquePointer?
                try git("git_odb_read") { git_odb_read(&object, odb, &oid) }
                defer { git_odb_object_free(object) }
                guard git_odb_object_type(object) == GIT_OBJECT_COMMIT, let data = git_odb_object_data(object) else {
                    throw GitError(
                        call: "git_odb_read", code: -1, message: "\(sha) is not a commit",
                        hint: "give the SHA of a commit on the app's branch")
                }
                return Array(UnsafeRawBufferPointer(start: data, count: git_odb_object_size(object)))
            }
        }
    }

    /// Whether `sha` is `ancestor` or descends from it (`git_graph_descendant_of`).
    public func descends(_ sha: String, from ancestor: String) async throws -> Bool {
        let path = self.path
        return try await blocking {
            try Self.withRepository(path) { repo in
                var commit = try Self.oid(sha)
                var base = try Self.oid(ancestor)
                if git_oid_equal(&commit, &base) != 0 { return true }
                return try git("git_graph_descendant_of") { git_graph_descendant_of(repo, &commit, &base) } == 1
            }
        }
    }

    /// The commits reachable from `head` but not from `base`, oldest first, at most `limit`
    /// (nil when there are more). Without `base` (or one this mirror lacks), `head`'s whole history.
    public func commits(to head: String, since base: String?, limit: Int) async throws -> [String]? {
        let path = self.path
        return try await blocking {
            try Self.withRepository(path) { repo in
                var walk: OpaquePointer?
                _ = try git("git_revwalk_new") { git_revwalk_new(&walk, repo) }
                defer { git_revwalk_free(walk) }
                git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL.rawValue | GIT_SORT_REVERSE.rawValue)
                var tip = try Self.oid(head)
                _ = try git("git_revwalk_push") { git_revwalk_push(walk, &tip) }
                if let base, var hidden = try? Self.oid(base) {
                    var object: OpaquePointer?
                    if git_object_lookup(&object, repo, &hidden, GIT_OBJECT_COMMIT) == 0 {
                        git_object_free(object)
                        _ = try git("git_revwalk_hide") { git_revwalk_hide(walk, &hidden) }
                    }
                }
                var found: [String] = []
                var next = git_oid()
                var rc = git_revwalk_next(&next, walk)
                while rc == 0 {
                    if found.count == limit { return nil }
                    found.append(next.hex)
                    rc = git_revwalk_next(&next, walk)
                }
                // Only the walk's end ends it: a walk that failed half-way would leave commits unchecked.
                if rc != GIT_ITEROVER.rawValue { _ = try git("git_revwalk_next") { rc } }
                return found
            }
        }
    }

    /// Who wrote commit `sha` and its subject line (`git_commit_author`, `git_commit_summary`),
    /// for notifications; nil when the mirror does not have it.
    public func summary(of sha: String) async -> (author: String, subject: String)? {
        let path = self.path
        return try? await blocking {
            try Self.withRepository(path) { repo in
                var oid = try Self.oid(sha)
                var commit: OpaquePointer?
                _ = try git("git_commit_lookup") { git_commit_lookup(&commit, repo, &oid) }
                defer { git_commit_free(commit) }
                let author =
                    git_commit_author(commit).map { signature -> String in
                        let name = signature.pointee.name.map { String(cString: $0) } ?? ""
                        let email = signature.pointee.email.map { String(cString: $0) } ?? ""
                        return email.isEmpty ? name : "\(name) <\(email)>"
                    } ?? ""
                let subject = git_commit_summary(commit).map { String(cString: $0) } ?? ""
                return (String(author.prefix(200)), String(subject.prefix(200)))
            }
        }
    }

    static func oid(_ sha: String) throws -> git_oid {
        var oid = git_oid()
        guard Names.isFullSHA(sha) else { throw GitWatchError.badURL(url: sha, problem: "is not a full commit id") }
        _ = try git("git_oid_fromstr") { git_oid_fromstr(&oid, sha) }
        return oid
    }
}

extension Mirror {
    /// The bytes of the file at `path` (relative, '/'-separated) in commit `sha`'s tree, nil when
    /// the tree has no such file; at most `limit` bytes (larger: an error). Reads the object
    /// database only: no checkout.
    public func file(_ path: String, at sha: String, limit: Int = 1 << 20) async throws -> [UInt8]? {
        let repository = self.path
        return try await blocking {
            try Self.withRepository(repository) { repo in
                var oid = try Self.oid(sha)
                var commit: OpaquePointer?
                try git("git_commit_lookup") { git_commit_lookup(&commit, repo, &oid) }
                defer { git_commit_free(commit) }
                var tree: OpaquePointer?
                try git("git_commit_tree") { git_commit_tree(&tree, commit) }
                defer { git_tree_free(tree) }
                var entry: OpaquePointer?
                guard git_tree_entry_bypath(&entry, tree, path) == 0 else { return nil }
                defer { git_tree_entry_free(entry) }
                guard git_tree_entry_type(entry) == GIT_OBJECT_BLOB else { return nil }
                var blob: OpaquePointer?
                try git("git_blob_lookup") { git_blob_lookup(&blob, repo, git_tree_entry_id(entry)) }
                defer { git_blob_free(blob) }
                let size = Int(git_blob_rawsize(blob))
                guard size <= limit else {
                    throw GitError(
                        call: "git_blob_lookup", code: -1, message: "\(path) at \(sha.prefix(12)) is \(size) bytes", hint: "")
                }
                guard size > 0, let data = git_blob_rawcontent(blob) else { return [] }
                return Array(UnsafeRawBufferPointer(start: data, count: size))
            }
        }
    }
}
