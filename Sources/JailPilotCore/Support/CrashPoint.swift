import FoundationEssentials
import Glibc

/// Test hook: with `JAILPILOT_CRASH_AT=<step>` the process kills itself with SIGKILL when it
/// reaches that step, exactly as `kill -9` would, so tests can prove recovery from every step.
/// Steps: fetch, build, clone, install, start, health, flip, retire, destroy.
public enum CrashPoint {
    static let armed = ProcessInfo.processInfo.environment["JAILPILOT_CRASH_AT"]

    /// Dies here if this step is the armed one.
    public static func hit(_ step: String) {
        guard armed == step else { return }
        FileIO.writeStandardError("jailpilot: crash point \(step) reached (JAILPILOT_CRASH_AT)\n")
        kill(getpid(), SIGKILL)
    }
}
