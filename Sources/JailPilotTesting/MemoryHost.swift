import FoundationEssentials
import JailPilot
import Synchronization

/// A jail host held in memory, for state-machine tests that need no root, no jails and no
/// network: jails (filesystem, running, owner marker, address), the boot set, the network
/// policy in force, data snapshots and open connections. Its steps are notes naming what it
/// does, recorded like a real driver's; faults are injected per action.
public final class MemoryHost: JailHost, Sendable {
    /// One jail as the host holds it.
    public struct Jail: Sendable, Equatable {
        public var spec: JailSpec
        public var running = false
        /// The owner marker on it: nil for a jail made before markers (unmarked).
        public var owner: OwnerID?
    }

    struct State {
        var jails: [String: Jail] = [:]
        var boot: Set<String> = []
        var policy: JailNetworkPolicy?
        var snapshots: [String: [String]] = [:]
        var volumes: Set<String> = []
        var connections: [String: Int] = [:]
        var exits: [String: String] = [:]
        var failures: [JailAction: String] = [:]
        var policyHook: (@Sendable (JailNetworkPolicy) async -> Void)?
        var releaseStepStatus: Int32 = 0
    }

    public let owner: OwnerID
    public let recorder: StepRecorder?
    /// The clock a paused policy load waits on.
    let clock: any ReleaseClock
    let state = Mutex(State())

    public init(owner: OwnerID, recorder: StepRecorder? = nil, clock: any ReleaseClock = SystemClock()) {
        self.owner = owner
        self.recorder = recorder
        self.clock = clock
    }

    // MARK: What tests set and read

    /// The jails on the host now, by name.
    public var jails: [String: Jail] { state.withLock { $0.jails } }
    /// The names rc.d would start at boot.
    public var bootSet: Set<String> { state.withLock { $0.boot } }
    /// The policy last put in force.
    public var policy: JailNetworkPolicy? { state.withLock { $0.policy } }
    /// The app's snapshots, oldest first.
    public func snapshots(app: String) -> [String] { state.withLock { $0.snapshots[app] ?? [] } }
    /// Makes `action` fail with `message` from now on (nil: succeed again).
    public func fail(_ action: JailAction, with message: String?) { state.withLock { $0.failures[action] = message } }
    /// Open connections to a release's service.
    public func setConnections(_ name: String, _ count: Int) { state.withLock { $0.connections[name] = count } }
    /// The service of `name` exits, saying `report`.
    public func exit(_ name: String, report: String) { state.withLock { $0.exits[name] = report } }
    /// Puts a jail on the host as another process (or an earlier run) left it.
    public func place(_ spec: JailSpec, running: Bool, owner: OwnerID?) {
        state.withLock { $0.jails[spec.name] = Jail(spec: spec, running: running, owner: owner) }
    }
    /// Forgets a jail the way a crashed host loses it.
    public func remove(_ name: String) { state.withLock { _ = $0.jails.removeValue(forKey: name) } }
    /// The next policy load runs `hook` after it has been computed and before it takes effect
    /// (what another deploy can do between writing pf's rules and loading them).
    public func onNextPolicyLoad(_ hook: @escaping @Sendable (JailNetworkPolicy) async -> Void) {
        state.withLock { $0.policyHook = hook }
    }
    /// The exit status of every release step from now on.
    public func setReleaseStepStatus(_ status: Int32) { state.withLock { $0.releaseStepStatus = status } }

    // MARK: JailHost

    public func plan(_ action: JailAction, _ spec: JailSpec) -> [HostStep] {
        [.note("memory: \(action.rawValue) \(spec.name) on \(spec.address)")]
    }

    func perform(_ action: JailAction, _ spec: JailSpec, _ change: (inout State) -> Void) throws {
        for step in plan(action, spec) { recorder?.record(step) }
        try state.withLock { state in
            if let failure = state.failures[action] {
                throw HostStepError(step: "\(action.rawValue) \(spec.name)", message: failure)
            }
            change(&state)
        }
    }

    /// The memory host runs no binary: nothing is judged.
    public var libraries: (root: String, dirs: [String])? { nil }

    public func provision(_ spec: JailSpec) async throws {
        try spec.validate()
        let owner = self.owner
        try perform(.provision, spec) { $0.jails[spec.name] = Jail(spec: spec, running: false, owner: owner) }
    }

    public func start(_ spec: JailSpec) async throws {
        try perform(.start, spec) { state in
            state.jails[spec.name]?.running = true
            state.jails[spec.name]?.spec.address = spec.address
            state.exits[spec.name] = nil
        }
    }

    public func stop(_ spec: JailSpec) async throws {
        try await requireNotOthers(spec, to: "stop")
        try perform(.stop, spec) { $0.jails[spec.name]?.running = false }
    }

    public func destroy(_ spec: JailSpec) async throws {
        try await requireNotOthers(spec, to: "destroy")
        try perform(.destroy, spec) { state in
            state.jails[spec.name] = nil
            state.boot.remove(spec.name)
        }
    }

    public func isRunning(_ spec: JailSpec) async -> Bool { state.withLock { $0.jails[spec.name]?.running ?? false } }
    public func exists(_ spec: JailSpec) async -> Bool { state.withLock { $0.jails[spec.name] != nil } }
    public func exitReport(_ spec: JailSpec) async -> String? { state.withLock { $0.exits[spec.name] } }
    public func logPath(_ spec: JailSpec) -> String { "/nonexistent/memory-host/\(spec.name).log" }

    public func promotePlan(_ spec: JailSpec, replacing old: JailSpec?) -> [HostStep] {
        [.note("memory: boot set + \(spec.name)" + (old.map { " - \($0.name)" } ?? ""))]
    }

    public func promote(_ spec: JailSpec, replacing old: JailSpec?) async throws {
        for step in promotePlan(spec, replacing: old) { recorder?.record(step) }
        state.withLock { state in
            if let old { state.boot.remove(old.name) }
            state.boot.insert(spec.name)
        }
    }

    public func syncBootList(_ live: [JailSpec]) async throws { state.withLock { $0.boot = Set(live.map(\.name)) } }
    public func rotateLog(_ spec: JailSpec, limit: Int, keep: Int) {}

    public func networkPolicyPlan(_ policy: JailNetworkPolicy) -> [HostStep] {
        [.note("memory: policy of \(policy.members.map { "\($0.app)@\($0.address)" }.joined(separator: " "))")]
    }

    public func applyNetworkPolicy(_ policy: JailNetworkPolicy) async throws {
        for step in networkPolicyPlan(policy) { recorder?.record(step) }
        let hook = state.withLock { state in
            defer { state.policyHook = nil }
            return state.policyHook
        }
        await hook?(policy)
        state.withLock { $0.policy = policy }
    }

    public func ownership(_ spec: JailSpec) async -> JailOwnership {
        guard let jail = state.withLock({ $0.jails[spec.name] }) else { return .absent }
        guard let marker = jail.owner else { return .unmarked }
        return marker.id == owner.id ? .ours : .other(marker)
    }

    public func ownedJails() async -> [OwnedJail] {
        let id = owner.id
        return state.withLock { state in
            state.jails.values.filter { $0.owner?.id == id }.map {
                OwnedJail(name: $0.spec.name, hasFilesystem: true, mark: $0.spec.mark)
            }
            .sorted { $0.name < $1.name }
        }
    }

    public func addressesInUse() async -> Set<String> {
        state.withLock { Set($0.jails.values.filter(\.running).map(\.spec.address).filter { !$0.isEmpty }) }
    }

    public func adopt(_ spec: JailSpec) async throws {
        let owner = self.owner
        state.withLock { $0.jails[spec.name]?.owner = owner }
    }

    public func hostChecks() async -> [HostCheck] { [] }
    public func enforcementChecks() async -> [HostCheck] { [] }
    public func openConnections(_ spec: JailSpec) async -> Int? { state.withLock { $0.connections[spec.name] ?? 0 } }
}
