import FoundationEssentials
import Glibc
import JailPilotCore

/// Who made a jail: the identity of one state_dir, written on every jail it creates (a ZFS
/// user property on FreeBSD, a file in the subvolume and an alias on the namespace's loopback
/// on Linux). Jail names are global on a host; ownership is what keeps one state_dir from
/// creating over, stopping or destroying another's jails, or jails it has no record of.
public struct OwnerID: Sendable, Equatable {
    /// 16 random hex digits, kept in `state_dir/owner`.
    public var id: String
    /// The state_dir it stands for (for messages only; `id` decides).
    public var stateDir: String

    public init(id: String, stateDir: String) {
        self.id = id
        self.stateDir = stateDir
    }

    /// What is written on a jail: `id=… state_dir=…` (logfmt).
    public var marker: String { "id=\(id) " + Logfmt.pair("state_dir", stateDir) }

    /// The marker of a new release: with `mark`, the app's commit mark (`mark=<sha>/<n>`).
    public func marker(_ mark: CommitMark?) -> String { marker + (mark.map { " mark=\($0.text)" } ?? "") }

    /// The commit mark a marker carries, if any.
    public static func mark(inMarker text: String) -> CommitMark? {
        Logfmt.parse(text).first { $0.0 == "mark" }.flatMap { CommitMark(text: Substring($0.1)) }
    }

    /// The owner named by a marker, or nil when `text` is not one.
    public static func parse(marker text: String) -> OwnerID? {
        let fields = Dictionary(Logfmt.parse(text), uniquingKeysWith: { a, _ in a })
        guard let id = fields["id"], isID(id) else { return nil }
        return OwnerID(id: id, stateDir: fields["state_dir"] ?? "?")
    }

    static func isID(_ text: String) -> Bool { Names.isLowerHex(Substring(text), count: 16) }

    /// The identity of `stateDir`, created on first use. One that cannot be read, or is not an
    /// id, is refused (OwnerFileDamaged), never replaced: every jail carries it, and a new one
    /// would make them all another state_dir's.
    public static func load(stateDir: String) throws -> OwnerID {
        let path = "\(stateDir)/owner"
        do {
            let text = try FileIO.readText(path)
            guard isID(text.trimmedWhitespace) else { throw OwnerFileDamaged(path: path, problem: "it holds no owner id") }
            return OwnerID(id: text.trimmedWhitespace, stateDir: stateDir)
        } catch let error as FileIOError where error.code != ENOENT {
            throw OwnerFileDamaged(path: path, problem: "\(error)")
        } catch is FileIOError {
            // Absent: a state_dir used for the first time.
        }
        var bytes = [UInt8](repeating: 0, count: 8)
        let got = bytes.withUnsafeMutableBytes { getentropy($0.baseAddress, 8) }
        guard got == 0 else { throw FileIOError(operation: "getentropy", path: path, code: errno) }
        let id = bytes.map { String.hex(UInt64($0), width: 2) }.joined()
        try FileIO.makeDirectories(stateDir, mode: 0o750)
        try FileIO.replace(path, text: id + "\n", mode: 0o644)
        return OwnerID(id: id, stateDir: stateDir)
    }
}

/// `state_dir/owner` exists but cannot be used: the jails' markers say which id it held.
public struct OwnerFileDamaged: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var problem: String
    public var description: String {
        "\(path.escapingControls) cannot be used (\(problem.escapingControls)): it names this state_dir's jails, so it is not replaced; write back the 16 hex digits of id= from one of its jails' owner markers (docs/DESIGN.md, \"Ownership\", says where they are), or remove it to start a new identity (every existing jail then counts as another state_dir's)"
    }
}

/// Whose a jail name is on this host.
public enum JailOwnership: Sendable, Equatable {
    /// Nothing of that name exists.
    case absent
    /// Made by this state_dir.
    case ours
    /// Exists without a marker: made by jailpilot before markers (or by hand).
    case unmarked
    /// Made by another state_dir.
    case other(OwnerID)

    /// For messages: who holds the name.
    public var holder: String {
        switch self {
        case .absent: "nobody"
        case .ours: "this state_dir"
        case .unmarked: "no jailpilot state_dir (it carries no owner marker)"
        case .other(let owner): "the jailpilot state_dir \(owner.stateDir) (owner \(owner.id))"
        }
    }
}

/// A jail of that name exists on this host and this state_dir did not make it.
public struct NotOwnedError: Error, Sendable, CustomStringConvertible {
    public var name: String
    public var action: String
    public var ownership: JailOwnership

    package init(name: String, action: String, ownership: JailOwnership) {
        self.name = name
        self.action = action
        self.ownership = ownership
    }

    public var description: String {
        "refusing to \(action) \(name): it exists on this host and belongs to \(ownership.holder); nothing was changed. "
            + "Deploy another commit, or remove that jail with the tool that made it"
    }
}

/// A jail this state_dir made, found on the host.
public struct OwnedJail: Sendable, Equatable {
    public var name: String
    /// Whether its filesystem is there (a lone network namespace is an orphan too).
    public var hasFilesystem: Bool
    /// The app's commit mark written on it when it was made; nil for none.
    public var mark: CommitMark?

    public init(name: String, hasFilesystem: Bool, mark: CommitMark? = nil) {
        self.name = name
        self.hasFilesystem = hasFilesystem
        self.mark = mark
    }
}
