import CGit2
import FoundationEssentials
import Glibc
import JailPilotCore

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
            // libgit2 pushes references, not object ids: a private one per run names the commit
            // (two runs sharing this cache never push each other's).
            var oid = try oid(sha)
            let local = "refs/jailpilot/promote-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            var reference: OpaquePointer?
            try git("git_reference_create") { git_reference_create(&reference, repo, local, &oid, 1, "jailpilot promote") }
            defer {
                git_reference_delete(reference)
                git_reference_free(reference)
            }
            let remote = try remote(in: repo, url: access.url)
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
                let rc = git_remote_push(remote, &array, &options)
                if rc == GIT_ENONFASTFORWARD.rawValue {
                    throw PushError(
                        message:
                            "\(branch) on \(access.redactedURL) moved since it was fetched and \(sha.prefix(12)) is not a fast-forward of it any more; nothing pushed (run again)"
                    )
                }
                do {
                    try git("git_remote_push", hint: "may these credentials push to \(access.redactedURL)?") { rc }
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
