import CGit2
import FoundationEssentials
import Glibc

/// A push the remote refused, or one that would not be a fast-forward.
public struct PushError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

extension Mirror {
    /// Moves `branch` on `access`'s remote to `sha`, a commit this mirror has: a push without
    /// force, so the remote itself refuses anything but a fast-forward (and says so here).
    /// Credentials are `access`'s, given to this call only.
    public func push(_ sha: String, to branch: String, access: RemoteAccess) async throws {
        let path = self.path
        try await withDeadline(access.fetchTimeout, "push to \(access.redactedURL)") {
            try await blocking { try Self.pushBlocking(path: path, sha: sha, branch: branch, access: access) }
        }
    }

    static func pushBlocking(path: String, sha: String, branch: String, access: RemoteAccess) throws {
        try RemoteRefs.checkScheme(access)
        if let problem = Names.branchProblem(branch) { throw PushError(message: "branch '\(branch)': \(problem)") }
        try withRepository(path) { repo in
            // libgit2 pushes references, not object ids: a private one names the commit.
            var oid = try oid(sha)
            let local = "refs/jailpilot/promote"
            var reference: OpaquePointer?
            try git("git_reference_create") { git_reference_create(&reference, repo, local, &oid, 1, "jailpilot promote") }
            git_reference_free(reference)
            var remote: OpaquePointer?
            try git("git_remote_create_anonymous") { git_remote_create_anonymous(&remote, repo, access.url) }
            defer { git_remote_free(remote) }
            let context = GitCallbacks(access: access)
            var options = git_push_options()
            git_push_options_init(&options, UInt32(GIT_PUSH_OPTIONS_VERSION))
            context.install(into: &options.callbacks)
            // No leading '+': the remote applies it only as a fast-forward.
            var refspec: UnsafeMutablePointer<CChar>? = strdup("\(local):refs/heads/\(branch)")
            defer { free(refspec) }
            try withUnsafeMutablePointer(to: &refspec) { strings in
                var array = git_strarray(strings: strings, count: 1)
                do {
                    try git("git_remote_push", hint: "may these credentials push to \(access.redactedURL)?") {
                        git_remote_push(remote, &array, &options)
                    }
                } catch let error as GitError {
                    throw context.error(error)
                }
            }
            try withExtendedLifetime(context) {
                if let rejected = context.pushRejection {
                    throw PushError(
                        message: "\(access.redactedURL) refused the push of \(sha.prefix(12)) to \(branch): \(rejected)")
                }
            }
        }
    }
}
