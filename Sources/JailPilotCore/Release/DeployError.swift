/// Why a deploy, rollback or resume did not complete. In every case what was live stays live.
public enum DeployError: Error, Sendable, CustomStringConvertible {
    case busy(app: String, holder: String)
    case failed(app: String, sha: String, step: String, reason: String, log: String?)
    case reverted(app: String, sha: String, reason: String, log: String?)
    /// Probation failed after the release step had run: the release stays live (no flip-back
    /// that would undo a migration); `snapshot` holds the data from before it.
    case held(app: String, sha: String, reason: String, snapshot: String?)
    case poolExhausted(network: String, used: Int)
    case noRelease(app: String, wanted: String?, kept: [String])
    /// A rollback that cannot be done as asked (`what`: "roll back", "roll back with its data"),
    /// and why, with what to do.
    case rollbackRefused(app: String, what: String, reason: String)

    public var description: String {
        switch self {
        case .busy(let app, let holder):
            return "another deploy or rollback of \(app) is running (pid \(holder)); wait for it to finish"
        case .failed(let app, let sha, let step, let reason, let log):
            return "\(app) at \(sha.prefix(12)) failed at \(step): \(reason); what was live is untouched"
                + (log.map { "; app log kept at \($0)" } ?? "")
        case .reverted(let app, let sha, let reason, let log):
            return
                "\(app) at \(sha.prefix(12)) failed its health checks during probation (\(reason)); flipped back to the previous release"
                + (log.map { "; app log kept at \($0)" } ?? "")
        case .held(let app, let sha, let reason, let snapshot):
            return
                "\(app) at \(sha.prefix(12)) failed its health checks during probation (\(reason)) after its release step ran; it stays live and was NOT flipped back, so as not to undo a migration. The previous release still runs as standby"
                + (snapshot.map { "; data snapshot \($0) holds the data from before the release step" } ?? "")
                + ". To go back: jailpilot rollback \(app)\(snapshot == nil ? "" : " [--with-data]")"
        case .poolExhausted(let network, let used):
            return
                "no free address in \(network): \(used) releases hold one; lower keep, remove releases, or widen [jails] network"
        case .noRelease(let app, let wanted, let kept):
            let list = kept.isEmpty ? "none" : kept.joined(separator: ", ")
            if let wanted { return "no kept release of \(app) matches '\(wanted)'; kept releases: \(list)" }
            return "\(app) has no earlier release kept to roll back to; kept releases: \(list)"
        case .rollbackRefused(let app, let what, let reason):
            return "cannot \(what) \(app): \(reason)"
        }
    }
}
