import FoundationEssentials
import Glibc
import Synchronization

/// Signed JSON notifications of releases, failures, refusals and holds (`[[agent.notify]]`).
///
/// Any process that emits such an event (the agent, or a CLI deploy) queues it in the store's
/// outbox, one row per receiver, with a single insert: a deploy never waits on a receiver. The
/// agent delivers the queue: a POST signed `X-Jailpilot-Signature: t=<unix>,v1=<hex
/// HMAC-SHA256(key, "<t>.<body>")>`, so a receiver can refuse a forged or a replayed one; a
/// failed delivery is retried with backoff (1 s doubling to 5 min) for a day, across restarts;
/// an outage is logged once, its end once, and `jailpilot_notifications_undelivered` counts
/// what waits. The last lines of a failed release's log go only to a receiver that asks for
/// them (`log_tail`) over https or loopback, with the app's secret values cut out in every form
/// SecretRedactor knows; the detail and fields are cut the same way.
public final class Notifier: Sendable {
    private let current: Mutex<Runtime>
    let runner: any ProcessRunning
    /// The runtime (config and store) deliveries use: the latest reload's.
    var runtime: Runtime { current.withLock { $0 } }
    private let failing = Mutex<Set<String>>([])
    /// How long a notification is retried before it is dropped (and that is logged).
    public static let giveUpAfter: Duration = .seconds(86400)
    public static let timeout: Duration = .seconds(10)

    public init(runtime: Runtime, runner: any ProcessRunning = HostProcessRunner()) {
        current = Mutex(runtime)
        self.runner = runner
    }

    /// Uses `runtime`'s receivers from now on (a reload).
    public func update(_ runtime: Runtime) { current.withLock { $0 = runtime } }

    /// The event names notifications are made of (the log's own names).
    public static let wanted: Set<String> = Set(NotifyTarget.allEvents)

    /// The events said right after the timeline entry they end (Deployer.note comes first);
    /// holds and key changes are not transitions.
    static let endsTransition: Set<String> = [
        "release.live", "release.failed", "release.reverted", "release.quarantined", "release.refused",
    ]

    /// Queues `event` for every receiver in `config` that wants it (EventLog.observe).
    public static func enqueue(_ event: Event, config: AgentConfig, store: StateStore, log: EventLog) {
        guard wanted.contains(event.name) else { return }
        for target in config.agent.notify where target.events.contains(event.name) {
            do {
                let dropped = try store.enqueue(
                    target: target.url, event: EventLog.format(event), app: event.app,
                    sha: endsTransition.contains(event.name) ? event.sha : nil)
                if dropped > 0 {
                    log.emitOnce(
                        key: "notify.overflow \(target.url)",
                        Event(
                            app: "-", name: "notify.overflow",
                            fields: [
                                ("receiver", label(target.url)),
                                ("note", "over \(StateStore.outboxLimit) undelivered: the oldest go"),
                            ]))
                }
            } catch {
                FileIO.writeStandardError("jailpilot: cannot queue a notification: \(error)\n")
            }
        }
    }

    /// A receiver as logs and metrics name it: scheme and host only (a path or a user part can
    /// hold a token).
    public static func label(_ url: String) -> String { NotifyTarget.label(url) }

    /// Most notifications one receiver gets in one pass (each pass is a second apart).
    static let perPass = 50

    /// Delivers what is due; returns how many were delivered. Each receiver gets its events in
    /// the order they happened: only its oldest is tried, and while that one waits out its
    /// backoff, nothing behind it goes. One receiver's failure never holds back another's items
    /// beyond its own timeout.
    @discardableResult
    public func deliverDue() async -> Int {
        let unread = "nothing is delivered while it cannot be read"
        guard let heads = outbox("read the queue", unread, { try $0.notificationHeads() }) else { return 0 }
        var delivered = 0
        for head in heads {
            var next: OutboxItem? = head
            var sent = 0
            while let item = next, item.dueAt <= runtime.clock.date.timeIntervalSince1970, sent < Self.perPass {
                let (went, goOn) = await deliver(item)
                if went { sent += 1 }
                guard goOn else { break }
                next = outbox("read the queue", unread, { try $0.nextNotification(target: item.target) }) ?? nil
            }
            delivered += sent
        }
        return delivered
    }

    /// Tries `item` once: whether it is done with (sent, or dropped), and whether the receiver's
    /// next item may follow in this pass (not when it failed and was deferred, nor when it could
    /// not be taken off the queue: it would be next again at once).
    private func deliver(_ item: OutboxItem) async -> (sent: Bool, goOn: Bool) {
        guard let target = runtime.config.agent.notify.first(where: { $0.url == item.target }) else {
            // A receiver no longer configured: its queue goes.
            let removed: Void? = outbox("remove an item of a receiver no longer configured", "it is tried again at every pass") {
                try $0.removeNotification(item.id)
            }
            return (removed != nil, removed != nil)
        }
        if runtime.clock.date.timeIntervalSince(item.created) > Self.giveUpAfter.seconds {
            guard
                outbox(
                    "drop an item retried for a day", "it is tried again at every pass", { try $0.removeNotification(item.id) })
                    != nil
            else { return (false, false) }
            runtime.log.emit(
                app: "-", "notify.dropped",
                [
                    ("receiver", Self.label(item.target)), ("after", DurationText.format(Self.giveUpAfter)),
                    ("delivery", item.delivery),
                ])
            return (true, true)
        }
        var body = item.body
        if body.isEmpty {
            body = await self.body(for: item, to: target)
            outbox("keep a notification's body", "it is made again at its next try (its log lines may differ)") {
                try $0.setNotificationBody(item.id, body)
            }
        }
        do {
            try await send(body, item: item, to: target)
            if failing.withLock({ $0.remove(item.target) }) != nil {
                runtime.log.emit(app: "-", "notify.recovered", [("receiver", Self.label(item.target))])
            }
            let removed: Void? = outbox(
                "remove a delivered notification",
                "it stays queued and is sent again at every pass (same delivery id: a receiver can drop the repeats)"
            ) { try $0.removeNotification(item.id) }
            return (true, removed != nil)
        } catch {
            let delay = Duration.seconds(min(300, 1 << min(item.attempts, 9)))
            outbox("defer a failed delivery", "it is retried at every pass, without backoff") {
                try $0.deferNotification(item.id, retryIn: delay, error: "\(error)")
            }
            if failing.withLock({ $0.insert(item.target).inserted }) {
                runtime.log.emit(
                    app: "-", "notify.failed",
                    [
                        ("receiver", Self.label(item.target)), ("error", "\(error)"),
                        ("note", "retried with backoff for a day, in order; said once until it works again"),
                    ])
            }
            return (false, false)
        }
    }

    /// Reads or writes the outbox; a failure is logged once per operation, saying what failed,
    /// what it means and what to do, and gives nil.
    @discardableResult
    private func outbox<T>(_ what: String, _ effect: String, _ body: (StateStore) throws -> T) -> T? {
        do { return try body(runtime.store) } catch {
            runtime.log.emitOnce(
                key: "notify.outbox_failed \(what)",
                Event(
                    app: "-", name: "notify.outbox_failed",
                    fields: [
                        ("what", what), ("error", "\(error)"), ("effect", effect),
                        ("fix", "check the disk of state_dir and state.db (jailpilot doctor); said once"),
                    ]))
            return nil
        }
    }

    /// The undelivered count per receiver label, for the metric.
    public func undelivered() -> [String: Int] {
        var counts: [String: Int] = [:]
        for target in runtime.config.agent.notify { counts[Self.label(target.url)] = 0 }
        for (url, count) in (try? runtime.store.undeliveredNotifications()) ?? [:] {
            counts[Self.label(url), default: 0] += count
        }
        return counts
    }
}
