import CGit2
import JailPilotCore

/// A failed libgit2 call, with the call's name and libgit2's own message.
public struct GitError: Error, Sendable, CustomStringConvertible {
    /// The libgit2 function that failed, e.g. `git_remote_connect`.
    public var call: String
    public var code: Int32
    public var message: String
    /// What the user can do about it, when known.
    public var hint: String?

    public var description: String {
        "\(call) failed: \(message)" + (hint.map { "; \($0)" } ?? "")
    }

    /// Reads libgit2's last error on this thread; call right after the failing call.
    static func last(_ call: String, _ code: Int32, hint: String? = nil) -> GitError {
        let message = git_error_last().flatMap { $0.pointee.message.map { String(cString: $0) } } ?? "error \(code)"
        return GitError(call: call, code: code, message: message, hint: hint)
    }
}

/// Runs a libgit2 call and throws its error, read on the same thread, when it fails.
@discardableResult
func git(_ call: String, hint: String? = nil, _ body: () -> Int32) throws -> Int32 {
    let rc = body()
    if rc < 0 { throw GitError.last(call, rc, hint: hint) }
    return rc
}

/// libgit2's global state, initialised once per process.
enum Libgit2 {
    private static let initialised: Bool = {
        git_libgit2_init()
        return true
    }()

    static func ensure() { _ = initialised }

    /// Whether this libgit2 was built with SSH support.
    static var hasSSH: Bool {
        ensure()
        return git_libgit2_features() & Int32(GIT_FEATURE_SSH.rawValue) != 0
    }
}

extension git_oid {
    /// The 40-hex form.
    var hex: String {
        var copy = self
        var buffer = [CChar](repeating: 0, count: 41)
        git_oid_tostr(&buffer, 41, &copy)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
