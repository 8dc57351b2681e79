import Synchronization

/// Asks app watchers to poll now instead of at their next interval: `jailpilot trigger` over
/// the agent's socket, or a forge's webhook. A trigger carries no commit (the watcher asks the
/// remote itself), so a forged one can at worst cause a poll; triggers for an app coalesce while
/// one is pending, and a watcher polls at most once per `minimumGap` for them.
public final class Triggers: Sendable {
    /// What became of a trigger.
    public enum Outcome: String, Sendable {
        /// The app's watcher polls now.
        case queued
        /// A trigger for the app was already pending: this one adds nothing.
        case coalesced
        /// No such app in agent.conf.
        case unknownApp = "unknown app"
    }

    struct Slot {
        /// Who asked, while a trigger waits for the watcher.
        var pending: String?
        var waiter: (id: Int, continuation: CheckedContinuation<String?, Never>)?
        /// Waits begun but not yet registered as the waiter (bounded by the watchers running).
        var starting: Set<Int> = []
        /// Of those, the ones that ended (timer or cancellation) before they registered.
        var ended: Set<Int> = []
    }

    private struct State {
        var apps: Set<String> = []
        var slots: [String: Slot] = [:]
        var nextID = 0
        /// When each wait runs out. One timer task serves them all (the earliest), instead of a
        /// sleeping task per watcher: an idle agent keeps one task's memory, not one per app.
        var deadlines: [(app: String, id: Int, at: ContinuousClock.Instant)] = []
        var timer: (at: ContinuousClock.Instant, task: Task<Void, Never>)?
    }

    private let state = Mutex(State())
    /// The least time between two triggered polls of one app.
    public let minimumGap: Duration

    public init(minimumGap: Duration = .seconds(1)) { self.minimumGap = minimumGap }

    /// The least time between two triggered polls of an app whose last `failures` polls failed
    /// in a row: `minimumGap`, doubling with each failure up to a minute. The watcher also waits
    /// out its own backoff, so triggers (or a flood of forged ones) never poll a failing remote
    /// faster than its polls would.
    public func gap(afterFailures failures: Int) -> Duration {
        failures == 0 ? minimumGap : min(.seconds(60), minimumGap * (1 << min(failures, 6)))
    }

    /// The apps triggers are accepted for (agent.conf's, updated on reload).
    public func setApps(_ names: Set<String>) { state.withLock { $0.apps = names } }

    /// Asks `app`'s watcher to poll now; `source` says who asked (trigger, webhook).
    @discardableResult
    public func trigger(_ app: String, source: String) -> Outcome {
        let (outcome, waiter) = state.withLock { state -> (Outcome, CheckedContinuation<String?, Never>?) in
            guard state.apps.contains(app) else { return (.unknownApp, nil) }
            var slot = state.slots[app] ?? Slot()
            defer { state.slots[app] = slot }
            if let waiter = slot.waiter {
                slot.waiter = nil
                state.deadlines.removeAll { $0.id == waiter.id }
                return (.queued, waiter.continuation)
            }
            if slot.pending != nil { return (.coalesced, nil) }
            slot.pending = source
            return (.queued, nil)
        }
        waiter?.resume(returning: source)
        return outcome
    }

    /// Waits up to `duration` for a trigger of `app`: returns who asked, or nil when the time
    /// ran out or the task was cancelled. One waiter per app (its watcher).
    public func wait(_ app: String, for duration: Duration) async -> String? {
        let id = state.withLock { state -> Int in
            state.nextID &+= 1
            state.deadlines.append((app, state.nextID, .now + duration))
            state.slots[app, default: Slot()].starting.insert(state.nextID)
            arm(&state)
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let (now, displaced) = state.withLock { state -> (String??, CheckedContinuation<String?, Never>?) in
                    var slot = state.slots[app] ?? Slot()
                    defer { state.slots[app] = slot }
                    slot.starting.remove(id)
                    // A wait that already ended (its task cancelled, a watcher being replaced)
                    // leaves a pending trigger for the watcher that follows.
                    if slot.ended.remove(id) != nil || Task.isCancelled {
                        state.deadlines.removeAll { $0.id == id }
                        return (.some(nil), nil)
                    }
                    if let pending = slot.pending {
                        slot.pending = nil
                        state.deadlines.removeAll { $0.id == id }
                        return (.some(pending), nil)
                    }
                    // One waiter per app: an older one (a watcher on its way out) ends now
                    // rather than never.
                    let displaced = slot.waiter
                    if let displaced { state.deadlines.removeAll { $0.id == displaced.id } }
                    slot.waiter = (id, continuation)
                    return (nil, displaced?.continuation)
                }
                displaced?.resume(returning: nil)
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            end(app, id)
        }
    }

    /// Makes the timer wake at the earliest deadline (a new task only when that moves earlier).
    private func arm(_ state: inout State) {
        guard let earliest = state.deadlines.map(\.at).min() else {
            state.timer?.task.cancel()
            state.timer = nil
            return
        }
        if let timer = state.timer, timer.at <= earliest { return }
        state.timer?.task.cancel()
        state.timer = (
            earliest,
            Task { [self] in
                try? await Task.sleep(until: earliest, clock: .continuous)
                if Task.isCancelled { return }
                expire()
            }
        )
    }

    /// Ends every wait whose time has come, and re-arms the timer for the rest.
    private func expire() {
        let due = state.withLock { state -> [(app: String, id: Int)] in
            let now = ContinuousClock.now
            let due = state.deadlines.filter { $0.at <= now }.map { ($0.app, $0.id) }
            state.deadlines.removeAll { $0.at <= now }
            state.timer = nil
            arm(&state)
            return due
        }
        for wait in due { end(wait.app, wait.id) }
    }

    /// Ends wait `id` of `app` with no trigger (its time ran out, or it was cancelled).
    private func end(_ app: String, _ id: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<String?, Never>? in
            state.deadlines.removeAll { $0.id == id }
            var slot = state.slots[app] ?? Slot()
            defer { state.slots[app] = slot }
            if let waiter = slot.waiter, waiter.id == id {
                slot.waiter = nil
                return waiter.continuation
            }
            if slot.starting.contains(id) { slot.ended.insert(id) }
            return nil
        }
        waiter?.resume(returning: nil)
    }
}
