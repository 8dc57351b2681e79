import CGit2
import FoundationEssentials
import Glibc
import JailPilotCore

/// What an export wrote.
public struct ExportStats: Sendable, Equatable {
    public var files: Int
    public var bytes: Int
}

/// Writes a commit's tree into a directory by walking it (no index, no checkout state).
///
/// Every entry name is checked before it touches the file system: no `..`, `.git`, slashes
/// or NUL from a hostile remote. Symlinks must stay inside the exported tree, resolved as the
/// kernel would once the whole tree is written (a chain of links each harmless alone can still
/// lead out). No blob is read before its size is known: the tree as a whole is capped.
extension Mirror {
    /// Exports the tree of commit `sha` into `directory`, which must not exist yet; refuses a
    /// tree whose files add up to more than `limit` bytes before writing past it.
    public func export(_ sha: String, to directory: String, limit: Int = Int.max) async throws -> ExportStats {
        let path = self.path
        return try await blocking {
            try Mirror.withRepository(path) { repo in
                var oid = git_oid()
                try git("git_oid_fromstr") { git_oid_fromstr(&oid, sha) }
                var commit: OpaquePointer?
                try git("git_commit_lookup") { git_commit_lookup(&commit, repo, &oid) }
                defer { git_commit_free(commit) }
                var tree: OpaquePointer?
                try git("git_commit_tree") { git_commit_tree(&tree, commit) }
                defer { git_tree_free(tree) }
                try FileIO.makeDirectories(directory)
                var odb: OpaquePointer?
                try git("git_repository_odb") { git_repository_odb(&odb, repo) }
                defer { git_odb_free(odb) }
                var walk = Walk(odb: odb!, limit: limit)
                try Self.write(tree!, repo: repo, into: directory, relative: "", walk: &walk)
                for link in walk.links {
                    if let problem = TreePaths.escape(of: link, root: directory) {
                        throw GitWatchError.unsafeTree(path: link, reason: problem)
                    }
                }
                return walk.stats
            }
        }
    }

    /// What the walk has written so far.
    struct Walk {
        let odb: OpaquePointer
        let limit: Int
        var stats = ExportStats(files: 0, bytes: 0)
        /// The symlinks written, relative to the root, checked once the tree is complete.
        var links: [String] = []

        /// Refuses the blob `id` before it is read when it would take the tree past the limit.
        mutating func admit(_ id: UnsafePointer<git_oid>?, path: String) throws {
            var size = 0
            var type = GIT_OBJECT_ANY
            try git("git_odb_read_header") { git_odb_read_header(&size, &type, odb, id) }
            guard size <= limit - stats.bytes else {
                throw GitWatchError.unsafeTree(
                    path: path,
                    reason:
                        "the tree is larger than max_tree_size (\(ByteCount.format(limit))): \(ByteCount.format(stats.bytes + size)) by this file; raise max_tree_size for this app if it is meant to be"
                )
            }
        }
    }

    private static func write(
        _ tree: OpaquePointer, repo: OpaquePointer, into directory: String, relative: String, walk: inout Walk
    ) throws {
        for index in 0..<git_tree_entrycount(tree) {
            let entry = git_tree_entry_byindex(tree, index)
            let name = String(cString: git_tree_entry_name(entry))
            let shown = relative.isEmpty ? name : "\(relative)/\(name)"
            if let problem = entryNameProblem(name) { throw GitWatchError.unsafeTree(path: shown, reason: problem) }
            let target = "\(directory)/\(name)"
            let id = git_tree_entry_id(entry)
            switch git_tree_entry_filemode(entry) {
            case GIT_FILEMODE_TREE:
                guard mkdir(target, 0o755) == 0 else { throw FileIOError(operation: "mkdir", path: target, code: errno) }
                var sub: OpaquePointer?
                try git("git_tree_lookup") { git_tree_lookup(&sub, repo, id) }
                defer { git_tree_free(sub) }
                try write(sub!, repo: repo, into: target, relative: shown, walk: &walk)
            case GIT_FILEMODE_BLOB, GIT_FILEMODE_BLOB_EXECUTABLE:
                let executable = git_tree_entry_filemode(entry) == GIT_FILEMODE_BLOB_EXECUTABLE
                try walk.admit(id, path: shown)
                try withBlob(repo, id) { bytes in
                    try FileIO.create(target, bytes: bytes, mode: executable ? 0o755 : 0o644)
                    walk.stats.bytes += bytes.count
                }
                walk.stats.files += 1
            case GIT_FILEMODE_LINK:
                try walk.admit(id, path: shown)
                try withBlob(repo, id) { bytes in
                    let link = String(decoding: bytes, as: UTF8.self)
                    if let problem = symlinkProblem(link, at: shown) {
                        throw GitWatchError.unsafeTree(path: shown, reason: problem)
                    }
                    guard symlink(link, target) == 0 else { throw FileIOError(operation: "symlink", path: target, code: errno) }
                }
                walk.links.append(shown)
                walk.stats.files += 1
            default:
                // Submodules (commits) are not fetched; git leaves an empty directory too.
                guard mkdir(target, 0o755) == 0 else { throw FileIOError(operation: "mkdir", path: target, code: errno) }
            }
        }
    }

    private static func withBlob(
        _ repo: OpaquePointer, _ id: UnsafePointer<git_oid>?, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var blob: OpaquePointer?
        try git("git_blob_lookup") { git_blob_lookup(&blob, repo, id) }
        defer { git_blob_free(blob) }
        let size = Int(git_blob_rawsize(blob))
        try body(UnsafeRawBufferPointer(start: git_blob_rawcontent(blob), count: size))
    }

    static func entryNameProblem(_ name: String) -> String? {
        if name.isEmpty || name == "." || name == ".." { return "a path component is '.', '..' or empty" }
        if name.contains("/") || name.contains("\0") || name.contains("\\") { return "the name holds '/', '\\' or NUL" }
        if name.lowercased() == ".git" { return "trees must not contain a .git entry" }
        return nil
    }

    static func symlinkProblem(_ link: String, at path: String) -> String? {
        if link.hasPrefix("/") { return "symlink to an absolute path (\(link)) would reach outside the source tree" }
        if link.contains("\0") { return "symlink target holds NUL" }
        var depth = path.split(separator: "/").count - 1
        for part in link.split(separator: "/") {
            if part == ".." { depth -= 1 } else if part != "." { depth += 1 }
            if depth < 0 { return "symlink to \(link) would reach outside the source tree" }
        }
        return nil
    }
}
