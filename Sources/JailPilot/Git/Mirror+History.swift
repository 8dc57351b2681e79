import CGit2
import FoundationEssentials

/// A commit's signature, as git stores it in the `gpgsig` header, and the bytes it signs.
public struct CommitSignature: Sendable, Equatable {
    /// The armored signature (`-----BEGIN SSH SIGNATURE-----` or `-----BEGIN PGP SIGNATURE-----`).
    public var signature: [UInt8]
    /// The commit object without its signature header: what the signer signed.
    public var payload: [UInt8]

    public init(signature: [UInt8], payload: [UInt8]) {
        self.signature = signature
        self.payload = payload
    }

    /// The signature's kind, from its armor.
    public var kind: CommitVerification.Method? {
        let head = String(decoding: signature.prefix(40), as: UTF8.self)
        if head.hasPrefix("-----BEGIN SSH SIGNATURE-----") { return .ssh }
        if head.hasPrefix("-----BEGIN PGP SIGNATURE-----") { return .gpg }
        return nil
    }
}

/// What the release engine asks of an app's history: signatures and ancestry.
extension Mirror {
    /// The signature of commit `sha` (`git_commit_extract_signature`); nil when it is unsigned.
    public func signature(of sha: String) async throws -> CommitSignature? {
        let path = self.path
        return try await blocking {
            try Self.withRepository(path) { repo in
                var oid = try Self.oid(sha)
                var signature = git_buf()
                var payload = git_buf()
                defer {
                    git_buf_dispose(&signature)
                    git_buf_dispose(&payload)
                }
                let rc = git_commit_extract_signature(&signature, &payload, repo, &oid, nil)
                if rc == GIT_ENOTFOUND.rawValue { return nil }
                _ = try git("git_commit_extract_signature") { rc }
                func bytes(_ buffer: git_buf) -> [UInt8] {
                    guard let pointer = buffer.ptr else { return [] }
                    return pointer.withMemoryRebound(to: UInt8.self, capacity: buffer.size) {
                        Array(UnsafeBufferPointer(start: $0, count: buffer.size))
                    }
                }
                return CommitSignature(signature: bytes(signature), payload: bytes(payload))
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
