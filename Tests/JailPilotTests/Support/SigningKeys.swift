import Foundation
import JailPilot
import Testing

/// Keys a test makes for itself, and commits signed with them through git, as a developer's
/// git signs: `ssh-keygen -t ed25519` with `gpg.format = ssh`, or a throwaway GnuPG home.
struct SSHSigner {
    let key: String
    let publicKey: String

    /// A new ed25519 key in `dir`.
    static func make(in dir: String, name: String) async throws -> SSHSigner {
        try FileIO.makeDirectories(dir, mode: 0o700)
        let key = "\(dir)/\(name)"
        try await sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key], in: nil, env: [:])
        let publicKey = try String(contentsOfFile: key + ".pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return SSHSigner(key: key, publicKey: publicKey)
    }

    /// A line of git's allowed-signers format for `principal` (ssh-keygen(1), ALLOWED SIGNERS).
    func allowedSigner(_ principal: String) -> String { "\(principal) namespaces=\"git\" \(publicKey)\n" }

    /// Commits `files` signed with this key.
    @discardableResult
    func commit(_ repo: GitFixture, _ files: [String: String], message: String) async throws -> String {
        for (name, text) in files { try repo.scratch.write("repo/\(name)", text) }
        try await repo.git(["add", "-A"])
        try await repo.git(["-c", "gpg.format=ssh", "-c", "user.signingkey=\(key)", "commit", "-q", "-S", "-m", message])
        return try await repo.head()
    }
}

/// An OpenPGP key in a throwaway GNUPGHOME, and the keyring `gpgv` reads (its exported public key).
struct GPGSigner {
    let home: String
    let fingerprint: String
    let keyring: String

    static func make(in dir: String, name: String, expire: String = "never") async throws -> GPGSigner {
        let home = "\(dir)/gnupg-\(name)"
        try FileIO.makeDirectories(home, mode: 0o700)
        let env = ["GNUPGHOME": home, "PATH": "/usr/bin:/bin"]
        try await sh(
            [
                "gpg", "--batch", "--passphrase", "", "--quick-gen-key", "\(name) <\(name)@example.invalid>", "ed25519", "sign",
                expire,
            ],
            in: nil, env: env)
        let listing = try await sh(["gpg", "--batch", "--with-colons", "--list-keys"], in: nil, env: env)
        let fingerprint = try #require(
            listing.split(separator: "\n").first { $0.hasPrefix("fpr:") }?.split(separator: ":", omittingEmptySubsequences: false)
                .dropFirst(9).first.map(String.init))
        let keyring = "\(dir)/\(name).gpg"
        let exported = try await HostProcessRunner().run(
            Command("gpg", ["--batch", "--export", fingerprint], environment: env), stdout: .capture, stderr: .capture,
            timeout: .seconds(30))
        try exported.stdout.write(to: URL(fileURLWithPath: keyring))
        return GPGSigner(home: home, fingerprint: fingerprint, keyring: keyring)
    }

    @discardableResult
    func commit(_ repo: GitFixture, _ files: [String: String], message: String) async throws -> String {
        for (name, text) in files { try repo.scratch.write("repo/\(name)", text) }
        try await repo.git(["add", "-A"])
        try await sh(
            ["git", "-c", "gpg.format=openpgp", "-c", "user.signingkey=\(fingerprint)", "commit", "-q", "-S", "-m", message],
            in: repo.work, env: GitFixture.env.merging(["GNUPGHOME": home, "PATH": "/usr/bin:/bin"]) { $1 })
        return try await repo.head()
    }
}

/// Whether the signing tools the verification tests use are installed.
let canSign = have("ssh-keygen") && have("gpg") && have("gpgv") && have("git")
