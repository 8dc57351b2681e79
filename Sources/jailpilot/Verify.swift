import ArgumentParser
import FoundationEssentials
import JailPilot

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Would the agent deploy this commit? Runs the whole commit gate, changes nothing; exit 0 only when allowed.",
        discussion: """
            Fetches the app's branch (and its promoted_from ring) into its mirror, then runs the gate a \
            deploy runs: the signature of each commit verify_scope names, SSH ones at their committer \
            time, against allowed_signers or keyring; no rewind from the live release or the app's \
            commit mark; and that the promoted_from ring holds the commit. Prints the verdict, the \
            reason and what to do, and the key that signed. Without --sha: the pin, else the branch \
            head, as the agent would take it; --sha is checked as if the branch moved to it. Nothing \
            is written: no quarantine, log entry, timeline row or mark.
            """)

    @OptionGroup var options: ConfigOption
    @Argument(help: "The app, as named in agent.conf.") var app: String
    @Option(help: "The commit (7-40 hex, on the app's branch); default: the pin, else the branch head.") var sha: String?
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let runtime = try options.runtime(echo: false)
        let app = try runtime.app(self.app)
        // The mirror is a cache: fetching into it records nothing in the store or the log.
        let mirror = Mirror(path: runtime.layout.mirror(app.name))
        let fetched = try await mirror.fetch(RemoteAccess(app: app), branch: app.branch, also: app.promotedFrom)
        let commit = try await SourcePipeline(runtime: runtime).resolve(app, sha: sha, mirror: mirror, head: fetched.head)
        let verdict = try await runtime.deployer().verdict(app, commit: commit, asBranchHead: sha != nil || app.pin == nil)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(verdict), as: UTF8.self))
        } else {
            print(verdict.text.escapingControls(keep: ["\n"]))
        }
        if !verdict.allowed { throw ExitCode(1) }
    }
}
