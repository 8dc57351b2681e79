import Foundation
import JailPilot
import Testing

/// `jailpilot doctor` on the Linux driver and the checks both drivers share, against a host
/// that lacks what the config names (the FreeBSD driver's checks: FreeBSDHostTests).
@Suite struct DoctorTests {
    func runtime(_ scratch: Scratch, knownHosts: String, sandbox: Bool = false) throws -> Runtime {
        let text = """
            [agent]
            platform = "linux"
            state_dir = "\(scratch.path)/state"
            known_hosts = "\(knownHosts)"
            build_sandbox = \(sandbox)
            [jails]
            mountpoint = "\(scratch.path)/plain"
            interface = "jpnone0"
            network = "10.250.0.0/24"
            [caddy]
            admin = "http://127.0.0.1:\(freePort())"
            resolver = "127.0.0.1:\(freePort())"
            [apps.hello]
            repo = "ssh://git@forge.example:2222/me/hello.git"
            hostnames = ["hello.localhost"]
            """
        try FileIO.makeDirectories("\(scratch.path)/state")
        try FileIO.makeDirectories("\(scratch.path)/plain")
        return try Runtime(config: try ConfigLoader.parse(text, file: "\(scratch.path)/agent.conf"), echo: false)
    }

    @Test func aLinuxHostWithoutItsPrerequisitesFailsEachCheckWithItsFix() async throws {
        let scratch = try Scratch("doctor")
        let knownHosts = "\(scratch.path)/known_hosts"
        try FileIO.replace(knownHosts, text: "")
        let checks = await Doctor(runtime: try runtime(scratch, knownHosts: knownHosts)).checks()
        let byName = Dictionary(checks.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for name in ["btrfs", "template", "bridge", "btrfs quotas", "caddy", "route resolver", "known_hosts for hello"] {
            let check = try #require(byName[name], "no check named \(name): \(checks.map(\.name))")
            #expect(!check.ok, "\(name): \(check.text)")
            #expect(check.fix?.isEmpty == false)
        }
        #expect(byName["btrfs"]?.detail.contains("not on btrfs") == true)
        #expect(byName["known_hosts for hello"]?.fix?.hasPrefix("ssh-keyscan -p 2222 forge.example >> \(knownHosts)") == true)
        #expect(byName["state_dir space"]?.ok == true)
        #expect(
            byName["known_hosts for hello"]?.text.hasPrefix("✗ known_hosts for hello: [forge.example]:2222 is not in") == true)
    }

    @Test func aKnownHostPasses() async throws {
        let scratch = try Scratch("doctor")
        let knownHosts = "\(scratch.path)/known_hosts"
        try FileIO.replace(
            knownHosts,
            text: "[forge.example]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n")
        let checks = await Doctor(runtime: try runtime(scratch, knownHosts: knownHosts)).checks()
        #expect(checks.first { $0.name == "known_hosts for hello" }?.ok == true)
    }

    @Test(.enabled(if: getpwnam("jailpilot-build") != nil, "needs the jailpilot-build account (scripts/install-deps)"))
    func theBuildSandboxChecksBubblewrapAndGo() async throws {
        let scratch = try Scratch("doctor")
        let checks = await Doctor(runtime: try runtime(scratch, knownHosts: "/nonexistent", sandbox: true)).checks()
        #expect(checks.first { $0.name == "bubblewrap" }?.ok == have("bwrap"))
        // The Go of build_path, not of the agent's own PATH (#33: doctor said "✓ go: go1.19.8"
        // from PATH while builds used build_path).
        let go = checks.first { $0.name.hasPrefix("go (build_path ") }
        #expect(go?.ok == have("go") && go?.detail.contains("used by hello") == true, "\(String(describing: go))")
    }

    @Test func sshHostsComeFromBothRemoteForms() {
        #expect(DoctorProbe.sshHost("ssh://git@forge.example:2222/me/x.git") == "forge.example:2222")
        #expect(DoctorProbe.sshHost("git@forge.example:me/x.git") == "forge.example:22")
        #expect(DoctorProbe.sshHost("https://forge.example/me/x.git") == nil)
    }
}
