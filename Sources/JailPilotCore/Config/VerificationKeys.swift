import Glibc

/// The trust anchors `verify` reads (an app's `allowed_signers` or `keyring`): only root may
/// change them, as only root may read env_files (both checked by RootOwnedFile), and a keyring
/// must be one gpgv reads. Checked before each verification, by `jailpilot check` and by
/// `jailpilot doctor`.
public enum VerificationKeys {
    /// The armor `gpg --armor --export` writes, which gpgv does not read as a keyring.
    static let armor = Array("-----BEGIN PGP PUBLIC KEY BLOCK-----".utf8)

    /// What is wrong with `app`'s key file ("allowed_signers /p decides which commits may be
    /// deployed but is mode 666 owned by uid 0"), and the command that fixes it; nil when it may
    /// be used or the app verifies nothing.
    public static func problem(_ app: AppConfig) -> RootOwnedFile.Problem? {
        let policy = app.verification
        guard policy.method != .none, let file = policy.keys else { return nil }
        let key = policy.method == .ssh ? "allowed_signers" : "keyring"
        if let problem = RootOwnedFile.check(file, for: .trust).problem {
            return RootOwnedFile.Problem(text: "\(key) \(file) \(problem.text)", fix: problem.fix)
        }
        let start = Self.start(of: file).drop { $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }
        if policy.method == .gpg, start.starts(with: armor) {
            let converted = file.hasSuffix(".asc") ? String(file.dropLast(4)) + ".gpg" : file + ".gpg"
            return RootOwnedFile.Problem(
                text:
                    "keyring \(file) is ASCII-armored (gpg --armor --export), which gpgv cannot read: every signature would be by an unknown key",
                fix: "convert it with gpg --dearmor < \(file) > \(converted) and set keyring = \"\(converted)\"")
        }
        return nil
    }

    /// Each app's problem as one sentence, "app: problem; fix", in agent.conf's order.
    public static func problems(_ config: AgentConfig) -> [String] {
        config.apps.compactMap { app in problem(app).map { "\(app.name): \($0.sentence)" } }
    }

    /// Throws `VerificationKeysError` when `app`'s key file may not be used.
    package static func require(_ app: AppConfig) throws {
        if let problem = problem(app) { throw VerificationKeysError(app: app.name, problem: problem.sentence) }
    }

    /// The first bytes of `file` (empty when it cannot be read).
    static func start(of file: String) -> [UInt8] {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 64)
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        return Array(bytes.prefix(max(n, 0)))
    }
}

/// An app's allowed_signers or keyring may not be used: nothing was verified, so nothing is
/// deployed, and the commit is not quarantined (it is not at fault).
public struct VerificationKeysError: Error, Sendable, CustomStringConvertible {
    public var app: String
    /// What is wrong and what to do ("allowed_signers /p … mode 666 …; … chmod go-w /p").
    public var problem: String

    public var description: String { "app \(app): \(problem); no commit of \(app) is verified or deployed until then" }
}
