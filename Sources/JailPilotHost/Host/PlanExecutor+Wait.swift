import JailPilotCore

extension PlanExecutor {
    /// The `.waitWhile` step: runs `command` until it fails (what it shows is over), pausing
    /// `retryPause` between runs, doubling up to 1 s; once `budget` has passed with it still
    /// succeeding, fails saying how long it waited, `reason` and `fix`. A run that times out
    /// answers nothing and is run again.
    func waitWhile(_ command: Command, budget: Duration, reason: String, fix: String) async throws {
        let clock = ContinuousClock()
        let start = clock.now
        var pause = retryPause
        while true {
            let result = try await runner.run(command, timeout: .seconds(10))
            if !result.succeeded && !result.timedOut { return }
            let waited = clock.now - start
            guard waited < budget else {
                throw HostStepError(
                    step: command.description,
                    message:
                        "still succeeding after \(DurationText.format(.seconds(Int64(waited.seconds.rounded())))), its budget: \(reason). \(fix)"
                )
            }
            try await Task.sleep(for: min(pause, budget - waited))
            pause = min(pause * 2, .seconds(1))
        }
    }
}
