/// An exclusive per-app lock (`state_dir/locks/<app>.lock`) so that two deploys or rollbacks of
/// one app never interleave, whether from the agent or the CLI.
public final class AppLock: Sendable {
    private let file: LockFile

    /// How long a lock found held is asked for again before it counts as busy (LockFile.patience:
    /// a lock just released by a deploy can look held while a spawning child holds its copy).
    public static let patience: Duration = LockFile.patience

    private init(file: LockFile) { self.file = file }

    /// Takes the lock, or throws `DeployError.busy` naming the holder once it has stayed held
    /// for `patience`; waits without holding a thread.
    public static func acquire(stateDir: String, app: String, patience: Duration = AppLock.patience) async throws -> AppLock {
        let path = "\(stateDir)/locks/\(app).lock"
        let deadline = ContinuousClock.now + patience
        while true {
            switch try LockFile.acquire(path) {
            case .success(let file): return AppLock(file: file)
            case .failure(let held):
                guard ContinuousClock.now < deadline else { throw DeployError.busy(app: app, holder: held.pid) }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
    }
}
