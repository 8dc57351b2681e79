import FoundationEssentials

/// One step of a release script: a driver operation, a gate, a store move or the flip. The
/// deployer runs nothing else (Deployer+Run), and `jailpilot plan` prints each one as the host
/// commands and notes it stands for (ReleaseScript.render).
public enum ScriptStep: Sendable {
    /// Caddy routes every served app's hostnames through the resolver (a Caddy that is down
    /// stops the action here, before anything live changes).
    case routes
    /// The release row is made, in the table's first state, at the address the plan shows (or
    /// the next free one, when another deploy took it meanwhile).
    case create(JailSpec)
    /// The driver clones the jail and installs the release into it.
    case provision(JailSpec)
    /// The app's data volume (made if missing), then a snapshot as the live release leaves it.
    case data(JailSpec)
    /// The network policy with the release's address in it, then the jail started.
    case start(JailSpec)
    /// The app's release step, run in the started jail.
    case releaseStep(JailSpec)
    /// Gate: `passes` answers of 200 in a row from GET health within the deadline.
    case health(JailSpec, passes: Int)
    /// The store moves the release to `state` (the transition table checks the move).
    case move(JailSpec, ReleaseState)
    /// The boot set, the store (`to` live, `from` standby) and the route table Caddy reads.
    case flip(to: JailSpec, from: JailSpec?, probation: Bool)
    /// Gate: the new release watched while `previous` keeps running; on failure it flips back.
    case probation(JailSpec, previous: JailSpec)
    /// Gate, then stop: a standby release stops once its connections close (drain_timeout at
    /// most), then it is retired.
    case retire(JailSpec)
    /// A running release stopped (the store move is a step of its own).
    case stop(JailSpec)
    /// A release's jail, filesystem, network and config removed.
    case destroy(JailSpec)
    /// A data snapshot no kept release needs, destroyed and forgotten.
    case destroySnapshot(app: String, name: String)
    /// A file of state_dir no release needs.
    case remove(path: String)
    /// The data volume put back to `snapshot`; the newer snapshots destroyed.
    case restore(app: String, snapshot: String, newer: [String])
    /// The app held at the release's commit (a rollback), until `resume`.
    case hold(JailSpec)
    /// Stop-first: the live release taken out of the route (the store, then the route table;
    /// Caddy holds new requests), the flip wait, then stopped. A failure before the flip starts
    /// it again and puts it back.
    case swapOut(JailSpec)

    /// The release the step is about, if any.
    public var spec: JailSpec? {
        switch self {
        case .create(let s), .provision(let s), .data(let s), .start(let s), .releaseStep(let s), .health(let s, _),
            .move(let s, _), .flip(let s, _, _), .probation(let s, _), .retire(let s), .stop(let s), .destroy(let s),
            .hold(let s), .swapOut(let s):
            return s
        case .routes, .destroySnapshot, .remove, .restore: return nil
        }
    }

    /// The step with every mention of `old` (by name) replaced by `new`: the release row got
    /// another address than the plan's.
    func replacing(_ old: JailSpec, with new: JailSpec) -> ScriptStep {
        func r(_ s: JailSpec) -> JailSpec { s.name == old.name ? new : s }
        switch self {
        case .create(let s): return .create(r(s))
        case .provision(let s): return .provision(r(s))
        case .data(let s): return .data(r(s))
        case .start(let s): return .start(r(s))
        case .releaseStep(let s): return .releaseStep(r(s))
        case .health(let s, let p): return .health(r(s), passes: p)
        case .move(let s, let state): return .move(r(s), state)
        case .flip(let s, let from, let p): return .flip(to: r(s), from: from.map(r), probation: p)
        case .probation(let s, let previous): return .probation(r(s), previous: r(previous))
        case .retire(let s): return .retire(r(s))
        case .stop(let s): return .stop(r(s))
        case .destroy(let s): return .destroy(r(s))
        case .hold(let s): return .hold(r(s))
        case .swapOut(let s): return .swapOut(r(s))
        case .routes, .destroySnapshot, .remove, .restore: return self
        }
    }
}
