import Foundation
import JailPilot

/// Commit objects written byte by byte into a test's repository (`git hash-object -t commit -w
/// --literally`), signed with the test's own keys (`ssh-keygen -Y sign -n git`, `gpg
/// --detach-sign`), and what `git verify-commit` says of them: the crafted cases git's reading
/// of a signed commit is checked with.
struct CommitForge {
    let repo: GitFixture
    /// Where payloads and signatures are written on their way into an object.
    let dir: String

    init(_ repo: GitFixture, dir: String) throws {
        self.repo = repo
        self.dir = dir
        try FileIO.makeDirectories(dir, mode: 0o700)
    }

    /// The headers of a commit of the repository's current tree (it needs one commit), by
    /// `test` at `time` (seconds since the epoch), without a signature: what a signer signs.
    func headers(time: Int = 1_700_000_000) async throws -> [UInt8] {
        let tree = try await repo.git(["rev-parse", "HEAD^{tree}"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let who = "test <test@example.invalid> \(time) +0000"
        return Array("tree \(tree)\nauthor \(who)\ncommitter \(who)\n".utf8)
    }

    /// The header `name` holding `signature` as git writes one: its first line after the name,
    /// every further line after a space.
    static func header(_ name: String, _ signature: [UInt8]) -> [UInt8] {
        var lines = signature.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        var out = Array(name.utf8) + [UInt8(ascii: " ")]
        for (index, line) in lines.enumerated() {
            if index > 0 { out.append(UInt8(ascii: " ")) }
            out += line + [UInt8(ascii: "\n")]
        }
        return out
    }

    /// An SSH signature of `payload` in git's namespace, as `git commit -S` with gpg.format=ssh makes it.
    func sign(_ payload: [UInt8], with signer: SSHSigner) async throws -> [UInt8] {
        let file = try write(payload, "payload-\(UUID().uuidString.prefix(8))")
        try await sh(["ssh-keygen", "-q", "-Y", "sign", "-n", "git", "-f", signer.key, file])
        return try Array(Data(contentsOf: URL(fileURLWithPath: file + ".sig")))
    }

    /// One armored OpenPGP block holding a signature of `payload` by each of `keys` (all in `home`).
    func sign(_ payload: [UInt8], gpgHome home: String, keys: [String]) async throws -> [UInt8] {
        let file = try write(payload, "payload-\(UUID().uuidString.prefix(8))")
        var args = ["gpg", "--batch", "--armor", "--detach-sign", "--output", file + ".asc"]
        for key in keys { args += ["-u", key] }
        try await sh(args + [file], env: ["GNUPGHOME": home])
        return try Array(Data(contentsOf: URL(fileURLWithPath: file + ".asc")))
    }

    /// Writes `object` as a commit, as it is (no checks), and makes it the head of main.
    @discardableResult
    func commit(_ object: [UInt8]) async throws -> String {
        let file = try write(object, "object-\(UUID().uuidString.prefix(8))")
        let sha = try await repo.git(["hash-object", "-t", "commit", "-w", "--literally", file])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try await repo.git(["update-ref", "refs/heads/main", sha])
        return sha
    }

    /// Whether `git verify-commit` accepts `sha`: SSH signatures against `allowedSigners`,
    /// OpenPGP ones against the keys in `gnupgHome`.
    func gitAccepts(_ sha: String, allowedSigners: String? = nil, gnupgHome: String? = nil) async throws -> Bool {
        var env = GitFixture.env
        if let gnupgHome { env["GNUPGHOME"] = gnupgHome }
        let config = allowedSigners.map { ["-c", "gpg.ssh.allowedSignersFile=\($0)"] } ?? []
        let result = try await HostProcessRunner().run(
            Command(
                "git", ["-C", repo.work] + config + ["verify-commit", sha],
                environment: ProcessInfo.processInfo.environment.merging(env) { $1 }),
            timeout: .seconds(60))
        return result.succeeded
    }

    /// What `git fsck` says of `sha`: its lines that name the object.
    func fsckProblems(_ sha: String) async throws -> [String] {
        let result = try await HostProcessRunner().run(
            Command(
                "git", ["-C", repo.work, "fsck", "--no-dangling"],
                environment: ProcessInfo.processInfo.environment.merging(GitFixture.env) { $1 }),
            timeout: .seconds(60))
        return (result.stdoutText + result.stderrText).split(separator: "\n").map(String.init).filter { $0.contains(sha) }
    }

    private func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let file = "\(dir)/\(name)"
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }
}

/// Two OpenPGP keys in one throwaway GNUPGHOME (a block signed by both needs both secret keys in
/// one home), and the keyring `gpgv` reads with both public keys.
struct GPGPair {
    let home: String
    let fingerprints: [String]
    let keyring: String

    static func make(in dir: String, names: [String]) async throws -> GPGPair {
        let home = "\(dir)/gnupg-\(names.joined(separator: "-"))"
        try FileIO.makeDirectories(home, mode: 0o700)
        let env = ["GNUPGHOME": home, "PATH": "/usr/bin:/bin"]
        for name in names {
            try await sh(
                [
                    "gpg", "--batch", "--passphrase", "", "--quick-gen-key", "\(name) <\(name)@example.invalid>", "ed25519",
                    "sign",
                    "never",
                ],
                env: env)
        }
        let listing = try await sh(["gpg", "--batch", "--with-colons", "--list-keys"], env: env)
        let fingerprints = listing.split(separator: "\n").filter { $0.hasPrefix("fpr:") }.compactMap {
            $0.split(separator: ":", omittingEmptySubsequences: false).dropFirst(9).first.map(String.init)
        }
        let keyring = "\(dir)/\(names.joined(separator: "-")).gpg"
        let exported = try await HostProcessRunner().run(
            Command("gpg", ["--batch", "--export"] + fingerprints, environment: env), stdout: .capture, stderr: .capture,
            timeout: .seconds(30))
        try exported.stdout.write(to: URL(fileURLWithPath: keyring))
        return GPGPair(home: home, fingerprints: fingerprints, keyring: keyring)
    }

    /// A keyring of `fingerprints` only, and a GNUPGHOME holding exactly those public keys (what
    /// `git verify-commit` is given to agree with gpgv on that keyring).
    func subset(_ fingerprints: [String], in dir: String, name: String) async throws -> (keyring: String, home: String) {
        let keyring = "\(dir)/\(name).gpg"
        let exported = try await HostProcessRunner().run(
            Command(
                "gpg", ["--batch", "--export"] + fingerprints, environment: ["GNUPGHOME": self.home, "PATH": "/usr/bin:/bin"]),
            stdout: .capture, stderr: .capture, timeout: .seconds(30))
        try exported.stdout.write(to: URL(fileURLWithPath: keyring))
        let home = "\(dir)/gnupg-\(name)"
        try FileIO.makeDirectories(home, mode: 0o700)
        try await sh(["gpg", "--batch", "--import", keyring], env: ["GNUPGHOME": home, "PATH": "/usr/bin:/bin"])
        return (keyring, home)
    }
}
