// Crash-test driver for Tests/JailPilotTests/CrashTests.swift; not shipped (the agent binary
// has no crash points: reaching one does nothing there).
//   jailpilot-crashtest run -c CONFIG --crash-at STEP
// runs the agent exactly as `jailpilot run -c CONFIG` does, except that it kills itself with
// SIGKILL, as `kill -9` would, when a deploy reaches STEP (fetch, build, clone, install, start,
// health, flip, probation, retire, destroy).
import Glibc
import JailPilot

/// Crash points that kill this process with SIGKILL at one step: no cleanup runs.
struct KillAt: CrashPoints {
    let step: String

    func reach(_ step: String) async {
        guard step == self.step else { return }
        FileIO.writeStandardError("jailpilot-crashtest: crash point \(step) reached\n")
        kill(getpid(), SIGKILL)
    }
}

let steps = ["fetch", "build", "clone", "install", "start", "health", "flip", "probation", "retire", "destroy"]
let args = Array(CommandLine.arguments.dropFirst())
guard args.count == 5, args[0] == "run", args[1] == "-c", args[3] == "--crash-at", steps.contains(args[4]) else {
    FileIO.writeStandardError(
        "usage: jailpilot-crashtest run -c CONFIG --crash-at STEP   (STEP: \(steps.joined(separator: ", ")))\n")
    exit(2)
}
do {
    let agent = try Agent(configPath: args[2], seams: AgentSeams(crash: KillAt(step: args[4])))
    await agent.run()
} catch {
    FileIO.writeStandardError("jailpilot-crashtest: \(error)\n")
    exit(1)
}
