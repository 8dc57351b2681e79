/// What a health gate saw.
public struct HealthReport: Sendable {
    public var healthy: Bool
    public var attempts: Int
    /// The last failure (status or connection error), for logs and errors.
    public var lastProblem: String?
}

/// `GET <health path>` against a release until it answers 200 `passes` times in a row.
public struct HealthProbe: Sendable {
    public var path: String
    public var passes: Int
    public var timeout: Duration
    public var interval: Duration

    public init(path: String, passes: Int, timeout: Duration, interval: Duration = .milliseconds(100)) {
        self.path = path
        self.passes = passes
        self.timeout = timeout
        self.interval = interval
    }

    public init(app: AppConfig) {
        self.init(path: app.health, passes: app.healthPasses, timeout: app.healthTimeout)
    }

    /// One request: nil when it answered 200, else what went wrong.
    public func check(address: String, port: Int) async -> String? {
        do {
            let response = try await HTTPClient(timeout: timeout).send("GET", path, to: .tcp(host: address, port: port))
            return response.status == 200 ? nil : "GET \(path) answered \(response.status)"
        } catch {
            return "GET \(path): \(error)"
        }
    }

    /// Probes until `passes` consecutive successes, or `deadline` passes, or `stillRunning` says no.
    public func waitHealthy(
        address: String, port: Int, deadline: Duration, stillRunning: @Sendable () async -> Bool = { true }
    ) async -> HealthReport {
        let end = ContinuousClock.now + deadline
        var streak = 0
        var attempts = 0
        var problem: String?
        while ContinuousClock.now < end {
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
            try? await Task.sleep(for: interval)
            if Task.isCancelled { break }
        }
        return HealthReport(healthy: false, attempts: attempts, lastProblem: problem ?? "no answer")
    }
}
