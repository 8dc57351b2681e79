import Glibc

/// The files agent.conf names for its apps on the host it configures — secrets (`env_files`),
/// credentials (`token_file`, `ssh_key`) and trust anchors (`allowed_signers`, `keyring`) —
/// checked as the agent will use them, so that `jailpilot check` says before a deploy does.
public enum AppFiles {
    /// Each problem as one sentence, "app: key file problem; fix", in agent.conf's order.
    public static func problems(_ config: AgentConfig) -> [String] {
        var problems: [String] = []
        for app in config.apps {
            for file in app.envFiles {
                if let problem = RootOwnedFile.check(file, for: .secret).problem {
                    problems.append("\(app.name): env_files \(file) \(problem.sentence)")
                }
            }
            for (jailPath, file) in app.files.sorted(by: { $0.key < $1.key }) {
                if let problem = ReleaseFile.problem(file) {
                    problems.append("\(app.name): files \(file) (for \(jailPath)) \(problem)")
                }
            }
            for (key, file) in [("token_file", app.tokenFile), ("ssh_key", app.sshKey)] {
                guard let file, access(file, R_OK) != 0 else { continue }
                problems.append("\(app.name): \(key) \(file) cannot be read: \(String(cString: strerror(errno)))")
            }
        }
        return problems + VerificationKeys.problems(config)
    }
}
