/// An exclusive per-app lock (`state_dir/locks/<app>.lock`) so that two deploys or rollbacks of
/// one app never interleave, whether from the agent or the CLI.
public final class AppLock: Sendable {
    private let file: LockFile

    /// Takes the lock or throws `DeployError.busy` naming the holder.
    public init(stateDir: String, app: String) throws {
        switch try LockFile.acquire("\(stateDir)/locks/\(app).lock") {
        case .success(let file): self.file = file
        case .failure(let held): throw DeployError.busy(app: app, holder: held.pid)
        }
    }
}
