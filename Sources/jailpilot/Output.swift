import Glibc
import JailPilot

/// Writes `message` and a newline to standard error.
func printError(_ message: String) {
    FileIO.writeStandardError(message + "\n")
}

extension Runtime {
    /// The deployer a command line uses: progress on stderr, and `cli:<user>` in the timeline
    /// (the user sudo ran it for, else the user running it).
    func cliDeployer() throws -> Deployer {
        var deployer = try deployer(progress: progressLine)
        deployer.actor = "cli:" + CLIUser.name
        return deployer
    }
}

/// Who runs this command, for the timeline.
enum CLIUser {
    static var name: String {
        if let sudo = getenv("SUDO_USER").map({ String(cString: $0) }), !sudo.isEmpty, Names.appNameProblem(sudo) == nil {
            return sudo
        }
        guard let entry = getpwuid(getuid()), let name = entry.pointee.pw_name else { return "uid\(getuid())" }
        return String(cString: name)
    }
}
