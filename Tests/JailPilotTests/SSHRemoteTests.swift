import Foundation
import JailPilot
import Testing

/// SSH remotes against a real sshd the test starts on 127.0.0.1 (root: sshd needs it): a key
/// the server accepts, and host keys that are known (plain or hashed), unknown or changed.
@Suite(
    .serialized,
    .enabled(if: isRoot && FileManager.default.isExecutableFile(atPath: "/usr/sbin/sshd"), "needs root and openssh-server"))
struct SSHRemoteTests {
    /// One sshd with its own host key, accepting one client key for root.
    final class Server: @unchecked Sendable {
        let scratch: Scratch
        let port: Int
        let clientKey: String
        let hostKeyLine: String
        let server: Background

        init() async throws {
            scratch = try Scratch("sshd")
            chmod(scratch.path, 0o700)
            port = freePort()
            let hostKey = "\(scratch.path)/host_ed25519"
            clientKey = "\(scratch.path)/client_ed25519"
            _ = try await sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey])
            _ = try await sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", clientKey])
            try FileManager.default.copyItem(atPath: clientKey + ".pub", toPath: "\(scratch.path)/authorized_keys")
            hostKeyLine = try String(contentsOfFile: hostKey + ".pub", encoding: .utf8).split(separator: " ").prefix(2)
                .joined(separator: " ")
            let config = try scratch.write(
                "sshd_config",
                """
                Port \(port)
                ListenAddress 127.0.0.1
                HostKey \(hostKey)
                AuthorizedKeysFile \(scratch.path)/authorized_keys
                PermitRootLogin prohibit-password
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                UsePAM no
                StrictModes no
                PidFile \(scratch.path)/sshd.pid

                """)
            try FileIO.makeDirectories("/run/sshd", mode: 0o755)
            server = try await Background(["/usr/sbin/sshd", "-D", "-e", "-f", config], port: port)
        }

        deinit { server.stop() }

        func access(_ repo: GitFixture, knownHosts: String) -> RemoteAccess {
            RemoteAccess(url: "ssh://root@127.0.0.1:\(port)\(repo.work)", sshKey: clientKey, knownHosts: knownHosts)
        }

        func knownHosts(_ text: String) throws -> String { try scratch.write("known_hosts-\(UUID().uuidString.prefix(6))", text) }
    }

    @Test func aKnownHostPlainOrHashedIsTrustedAndTheRepoIsRead() async throws {
        let server = try await Server()
        let repo = try await GitFixture()
        let sha = try await repo.commit(["a": "1"])
        let plain = try server.knownHosts("[127.0.0.1]:\(server.port) \(server.hostKeyLine)\n")
        #expect(try await RemoteRefs().head(of: "main", at: server.access(repo, knownHosts: plain)) == sha)
        // What `ssh-keyscan -H` writes: |1|salt|HMAC-SHA1(salt, "[127.0.0.1]:port").
        let scanned = try await sh(["ssh-keyscan", "-H", "-t", "ed25519", "-p", "\(server.port)", "127.0.0.1"])
        #expect(scanned.hasPrefix("|1|"), "\(scanned)")
        let hashed = try server.knownHosts(scanned)
        #expect(try await RemoteRefs().head(of: "main", at: server.access(repo, knownHosts: hashed)) == sha)
        let mirror = Mirror(path: "\(server.scratch.path)/m.git")
        #expect(try await mirror.fetch(server.access(repo, knownHosts: hashed), branch: "main").head == sha)
    }

    @Test func anUnknownOrChangedHostKeyIsRefusedWithWhatToDo() async throws {
        let server = try await Server()
        let repo = try await GitFixture()
        try await repo.commit(["a": "1"])
        let unknown = try server.knownHosts("")
        let refused = await #expect(throws: GitError.self) {
            try await RemoteRefs().list(server.access(repo, knownHosts: unknown))
        }
        #expect(refused?.description.contains("is not in \(unknown)") == true, "\(String(describing: refused))")
        #expect(refused?.description.contains("ssh-keyscan -p \(server.port) 127.0.0.1") == true)

        let other = try await sh([
            "sh", "-c", "ssh-keygen -q -t ed25519 -N '' -f \"$0\" && cat \"$0.pub\"", "\(server.scratch.path)/other",
        ])
        let changed = try server.knownHosts(
            "[127.0.0.1]:\(server.port) \(other.split(separator: " ").prefix(2).joined(separator: " "))\n")
        let mitm = await #expect(throws: GitError.self) { try await RemoteRefs().list(server.access(repo, knownHosts: changed)) }
        #expect(mitm?.description.contains("CHANGED") == true, "\(String(describing: mitm))")
    }

    @Test func hashedNamesMatchAsOpenSSHComputesThem() {
        // RFC 2202 test case 2, and FIPS 180 "abc".
        #expect(
            SHA1.hash(Array("abc".utf8)).map { String(format: "%02x", $0) }.joined() == "a9993e364706816aba3e25717850c26c9cd0d89d"
        )
        let mac = SHA1.hmac(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(mac.map { String(format: "%02x", $0) }.joined() == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        let long = SHA1.hash(Array(String(repeating: "a", count: 1_000_000).utf8))
        #expect(long.map { String(format: "%02x", $0) }.joined() == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }
}
