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
        let store = runtime.store
        guard let heads = try? store.notificationHeads() else { return 0 }
        var delivered = 0
        for head in heads {
            var next: OutboxItem? = head
            var sent = 0
            while let item = next, item.dueAt <= runtime.clock.date.timeIntervalSince1970, sent < Self.perPass {
                guard await deliver(item) else { break }
                sent += 1
                next = try? store.nextNotification(target: item.target)
            }
            delivered += sent
        }
        return delivered
    }

    /// Tries `item` once; false when it failed (and was deferred).
    private func deliver(_ item: OutboxItem) async -> Bool {
        let store = runtime.store
        guard let target = runtime.config.agent.notify.first(where: { $0.url == item.target }) else {
            // A receiver no longer configured: its queue goes.
            try? store.removeNotification(item.id)
            return true
        }
        if runtime.clock.date.timeIntervalSince(item.created) > Self.giveUpAfter.seconds {
            try? store.removeNotification(item.id)
            runtime.log.emit(
                app: "-", "notify.dropped",
                [
                    ("receiver", Self.label(item.target)), ("after", DurationText.format(Self.giveUpAfter)),
                    ("delivery", item.delivery),
                ])
            return true
        }
        var body = item.body
        if body.isEmpty {
            body = await self.body(for: item, to: target)
            try? store.setNotificationBody(item.id, body)
        }
        do {
            try await send(body, item: item, to: target)
            try? store.removeNotification(item.id)
            if failing.withLock({ $0.remove(item.target) }) != nil {
                runtime.log.emit(app: "-", "notify.recovered", [("receiver", Self.label(item.target))])
            }
            return true
        } catch {
            let delay = Duration.seconds(min(300, 1 << min(item.attempts, 9)))
            try? store.deferNotification(item.id, retryIn: delay, error: "\(error)")
            if failing.withLock({ $0.insert(item.target).inserted }) {
                runtime.log.emit(
                    app: "-", "notify.failed",
                    [
                        ("receiver", Self.label(item.target)), ("error", "\(error)"),
                        ("note", "retried with backoff for a day, in order; said once until it works again"),
                    ])
            }
            return false
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
