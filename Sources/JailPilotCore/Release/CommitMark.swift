import FoundationEssentials

/// The newest commit an app has had live from its branch (or a pin forward of it), with a
/// generation that grows with each one: a branch head that does not descend from it is a
/// rewind. Kept in the store and written on each release on the host (a ZFS user property on
/// FreeBSD, the owner marker on Linux), so a store restored from an older backup gets it back.
public struct CommitMark: Sendable, Equatable {
    public var sha: String
    public var generation: Int

    public init(sha: String, generation: Int) {
        self.sha = sha
        self.generation = generation
    }

    /// How it is written on a release: `<sha>/<generation>`.
    public var text: String { "\(sha)/\(generation)" }

    /// The mark `text` names, or nil when it is not one (`-`, a marker from before marks).
    public init?(text: Substring) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, Names.isLowerHex(parts[0], count: 40), let generation = Int(parts[1]), generation > 0 else {
            return nil
        }
        self.init(sha: String(parts[0]), generation: generation)
    }
}
