import Glibc

/// One of an app's `files`, read from the host when a release is made: these bytes are what
/// the release gets and what its identity digests, so a later edit makes a new release.
public struct ReleaseFile: Sendable, Equatable {
    /// Where it goes inside the jail.
    public var path: String
    /// Where it was read on the host.
    public var source: String
    public var bytes: [UInt8]
    /// Whether others may read it on the host: then anyone in the jail may (0444); otherwise
    /// root and the app's group only (0440, group nobody), as a file of secrets.
    public var isPublic: Bool

    public init(path: String, source: String, bytes: [UInt8], isPublic: Bool) {
        self.path = path
        self.source = source
        self.bytes = bytes
        self.isPublic = isPublic
    }

    /// The largest file `files` installs.
    public static let limit = 1 << 20

    /// Its mode in the jail.
    public var mode: UInt16 { isPublic ? 0o444 : 0o440 }

    /// Reads `source` as it will be installed at `path`, refusing what only root may not change.
    public static func read(_ source: String, to path: String, app: String) throws -> ReleaseFile {
        if let problem = problem(source) { throw ReleaseFileError(app: app, file: source, path: path, problem: problem) }
        var info = stat()
        guard stat(source, &info) == 0 else {
            throw ReleaseFileError(
                app: app, file: source, path: path, problem: "cannot be read: \(String(cString: strerror(errno)))")
        }
        let bytes: [UInt8]
        do { bytes = try FileIO.readBytes(source, limit: limit) } catch {
            throw ReleaseFileError(app: app, file: source, path: path, problem: "cannot be read: \(error)")
        }
        return ReleaseFile(path: path, source: source, bytes: bytes, isPublic: info.st_mode & 0o004 != 0)
    }

    /// Why `source` may not go into a release (its owner, mode or size), with the fix; nil when it may.
    public static func problem(_ source: String) -> String? {
        let (size, problem) = RootOwnedFile.check(source, for: .config)
        if let problem { return problem.sentence }
        if size > limit {
            return "is \(size) bytes; a release file may be 1 MiB at most (ship larger data with the build or in `data`)"
        }
        return nil
    }
}

/// One of `files` that cannot be installed; the deploy did not start.
public struct ReleaseFileError: Error, Sendable, CustomStringConvertible {
    public var app: String
    public var file: String
    public var path: String
    public var problem: String
    public var description: String { "app \(app): files \(file) (for \(path)) \(problem); nothing was deployed" }
}
