import JailPilotCore
import Synchronization

/// The steps a run actually took, in order: what tests compare with the plan `jailpilot plan`
/// prints for the same action (one sequence, two interpreters).
public final class StepRecorder: Sendable {
    private let steps = Mutex<[HostStep]>([])

    public init() {}

    /// Notes one step as it starts.
    public func record(_ step: HostStep) { steps.withLock { $0.append(step) } }

    /// Everything recorded so far, and forgets it.
    public func take() -> [HostStep] {
        steps.withLock { taken in
            defer { taken = [] }; return taken
        }
    }
}
