import JailPilotCore

/// Why a build did not produce an artifact; what was live is untouched in every case.
public enum BuildError: Error, Sendable, CustomStringConvertible {
    case failed(app: String, sha: String, status: Int32, log: String, tail: String)
    case timedOut(app: String, sha: String, limit: Duration, log: String, tail: String)
    case noArtifact(app: String, sha: String, expected: String, log: String)
    case diskFull(app: String, sha: String, detail: String)
    case cannotStart(app: String, sha: String, detail: String)
    /// The build succeeded but its binary could not be put in place.
    case installFailed(app: String, sha: String, detail: String)
    /// The commit's go.mod needs a newer Go than `build_path` gives; nothing was built.
    case toolchain(app: String, sha: String, detail: String)
    /// The binary is dynamically linked against libraries (or a dynamic linker) the jail's
    /// template does not have: it would fail to start with "No such file or directory".
    case unlinkable(app: String, sha: String, missing: [String], template: String, platform: PlatformKind)
    /// The agent stopped (SIGTERM) while building: says nothing about the commit, which is built again.
    case cancelled(app: String, sha: String)

    public var description: String {
        switch self {
        case .failed(let app, let sha, let status, let log, let tail):
            return "build of \(app) at \(sha.prefix(12)) failed (exit status \(status)); full log: \(log)\n\(tail)"
        case .timedOut(let app, let sha, let limit, let log, let tail):
            return
                "build of \(app) at \(sha.prefix(12)) exceeded its time limit of \(DurationText.format(limit)) and was killed; raise build_timeout if it needs longer; full log: \(log)\n\(tail)"
        case .noArtifact(let app, let sha, let expected, let log):
            return
                "build of \(app) at \(sha.prefix(12)) succeeded but wrote no binary at \(expected); the build command must write to {out}; log: \(log)"
        case .diskFull(let app, let sha, let detail):
            return "build of \(app) at \(sha.prefix(12)) stopped: \(detail); the staging directory was removed"
        case .cannotStart(let app, let sha, let detail):
            return "build of \(app) at \(sha.prefix(12)) could not start: \(detail)"
        case .installFailed(let app, let sha, let detail):
            return "build of \(app) at \(sha.prefix(12)) succeeded, but its binary could not be installed: \(detail)"
        case .toolchain(let app, let sha, let detail):
            return "build of \(app) at \(sha.prefix(12)) not started: \(detail)"
        case .unlinkable(let app, let sha, let missing, let template, let platform):
            let fix =
                platform == .freebsd
                ? "link what is not in base statically (build = [\"go\", \"build\", \"-ldflags\", \"-extldflags=-static\", \"-o\", \"{out}\", \".\"]), or build without cgo (CGO_ENABLED = \"0\", the default); only base's /lib and /usr/lib are in a jail"
                : "link it statically (build = [\"go\", \"build\", \"-ldflags\", \"-linkmode=external -extldflags=-static\", \"-o\", \"{out}\", \".\"] with CGO_ENABLED = \"1\"), or build without cgo (CGO_ENABLED = \"0\", the default)"
            return
                "build of \(app) at \(sha.prefix(12)) made a dynamically linked binary that needs \(missing.joined(separator: ", ")), which its jail (cloned from \(template)) does not have; it would not start (\"No such file or directory\"): \(fix)"
        case .cancelled(let app, let sha):
            return "build of \(app) at \(sha.prefix(12)) was stopped because the agent is stopping; it is built again next time"
        }
    }

    /// A short reason for logs and quarantine.
    public var reason: String {
        switch self {
        case .failed(_, _, let status, _, _): return "build exited \(status)"
        case .timedOut(_, _, let limit, _, _): return "build timed out after \(DurationText.format(limit))"
        case .noArtifact: return "build wrote no binary"
        case .diskFull: return "disk full"
        case .cannotStart(_, _, let detail): return detail
        case .installFailed(_, _, let detail): return "cannot install the binary: \(detail)"
        case .toolchain: return "its go.mod needs a newer Go than build_path gives"
        case .unlinkable(_, _, let missing, _, _): return "binary needs \(missing.joined(separator: ", ")), which the jail lacks"
        case .cancelled: return "cancelled: the agent is stopping"
        }
    }
}
