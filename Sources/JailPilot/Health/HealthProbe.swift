/// What a health gate saw.
public struct HealthReport: Sendable {
    public var healthy: Bool
    public var attempts: Int
    /// The last failure (status or connection error), for logs and errors.
    public var lastProblem: String?
}

/// `GET <health path>` against a release until it answers 200 `passes` times in a row.
///
/// Until the first 200 it asks every `retry` (20 ms: a refused connection costs nothing, and
/// the gate ends within 20 ms of the app listening); between 200s it waits `interval` (25 ms),
/// so three passes see the app healthy for 50 ms. That window is short on purpose: probation,
/// after the flip, is what watches a release for seconds and flips back.
public struct HealthProbe: Sendable {
    public var app: AppConfig
    public var interval: Duration
    public var retry: Duration
    public var checker: any HealthChecking
    public var clock: any ReleaseClock

    public init(
        app: AppConfig, checker: any HealthChecking = HTTPHealthCheck(), clock: any ReleaseClock = SystemClock(),
        interval: Duration = .milliseconds(25), retry: Duration = .milliseconds(20)
    ) {
        self.app = app
        self.checker = checker
        self.clock = clock
        self.interval = interval
        self.retry = retry
    }

    /// One request: nil when it answered 200, else what went wrong.
    public func check(address: String, port: Int) async -> String? {
        await checker.check(app, address: address, port: port, timeout: app.healthTimeout)
    }

    /// Probes until `passes` (default `app.healthPasses`) consecutive successes, or `deadline`
    /// passes, or `stillRunning` says no.
    public func waitHealthy(
        address: String, port: Int, deadline: Duration, passes: Int? = nil, stillRunning: @Sendable () async -> Bool = { true }
    ) async -> HealthReport {
        let passes = passes ?? app.healthPasses
        let end = clock.now + deadline
        var streak = 0
        var attempts = 0
        var problem: String?
        while clock.now < end {
            attempts += 1
            if let failure = await check(address: address, port: port) {
                streak = 0
                problem = failure
                if !(await stillRunning()) {
                    return HealthReport(healthy: false, attempts: attempts, lastProblem: "the app exited (\(failure))")
                }
            } else {
                streak += 1
                if streak >= passes { return HealthReport(healthy: true, attempts: attempts, lastProblem: nil) }
            }
            try? await clock.sleep(for: streak > 0 ? interval : retry)
            if Task.isCancelled { break }
        }
        return HealthReport(healthy: false, attempts: attempts, lastProblem: problem ?? "no answer")
    }
}
