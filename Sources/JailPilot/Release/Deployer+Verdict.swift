extension Deployer {
    /// The commit gate's verdict on `commit` of `app`: the very gate a deploy runs
    /// (`checkCommit`: signatures at each commit's time, verify_scope, rewind against the live
    /// release and the commit mark, the `promoted_from` ring), in its dry mode: no quarantine,
    /// log entry, timeline row or mark is written (`jailpilot verify`). `asBranchHead`: checked
    /// as the branch head the agent follows, else as a pin (signatures only). Throws what is not
    /// a verdict (a key file that may not be used, a commit the mirror lacks).
    public func verdict(_ app: AppConfig, commit: String, asBranchHead: Bool) async throws -> CommitVerdict {
        let live = try store.live(app: app.name)
        let mark = try await commitMark(app, dry: true)
        let outcome: Result<GatePass, CommitRefusal>
        do {
            outcome = .success(
                try await checkCommit(app, commit, live: live, fromBranch: asBranchHead, cause: "verify", dry: true))
        } catch let refusal as CommitRefusal {
            outcome = .failure(refusal)
        }
        return CommitVerdict(
            app: app, sha: commit, outcome: outcome, asBranchHead: asBranchHead, live: live?.sha, mark: mark?.sha)
    }
}
