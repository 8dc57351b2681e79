import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// What a jail can reach on the Linux driver: nothing on the host and nothing in other jails,
/// except what its app's `reach` opens (root, btrfs, netns, nftables). Traffic stays inside this
/// machine: listeners the test starts on the host and the jails' own addresses.
@Suite(.serialized, .enabled(if: canDeploy && have("nft"), "needs root, caddy, go, btrfs-progs, iproute2 and nftables"))
struct JailNetworkTests {
    func dial(_ world: E2EWorld, from app: String, _ target: String) async -> String {
        guard let live = try? world.runtime.store.live(app: app), let address = live.address,
            let response = try? await HTTPClient(timeout: .seconds(10)).send(
                "GET", "/dial?addr=\(target)", to: .tcp(host: address, port: 8080), host: "x")
        else { return "<no response>" }
        return response.text
    }

    @Test func jailsReachOnlyWhatTheirAppOpens() async throws {
        let opened = try TCPRecorder(address: "0.0.0.0")
        let closed = try TCPRecorder(address: "0.0.0.0")
        var api = TestAgentConf.App("api", repo: "file:///nonexistent/api")
        api.healthDeadline = "8s"
        api.probation = "1s"
        try await E2EWorld.with(appExtra: "reach = [\"app:api\", \"host:\(opened.port)\"]", tune: { $0.apps.append(api) }) {
            world in
            // The api app was configured before the repo existed: point it at the world's repo.
            var conf = world.conf
            conf[app: "api"].repo = world.repo.fileURL
            let runtime = try Runtime(config: try conf.parsed(file: "net.conf"), echo: false)
            let deployer = try runtime.deployer()
            let apiApp = try #require(runtime.config.app("api"))
            do {
                _ = try await world.repo.commitProber()
                _ = try await deployer.deploy(try #require(runtime.config.app("hello")))
                _ = try await deployer.deploy(apiApp)
                let gateway = try #require(runtime.config.jails.network.host(1))
                let apiAddress = try #require(try runtime.store.live(app: "api")?.address)
                let helloAddress = try #require(try runtime.store.live(app: "hello")?.address)

                // Another jail network on this host (another state_dir's bridge) whose range
                // overlaps this one: its rules are for its own ports and cut nothing here.
                try await Self.loadForeignPolicy()
                // Each answer is read first so that a failure prints what the jail said.
                let toApi = await dial(world, from: "hello", "\(apiAddress):8080")
                #expect(toApi == "connected", "reach app:api")
                let toOpened = await dial(world, from: "hello", "\(gateway):\(opened.port)")
                #expect(toOpened == "connected", "reach host:PORT")
                let toClosed = await dial(world, from: "hello", "\(gateway):\(closed.port)")
                #expect(toClosed.hasPrefix("refused"))
                let apiToHello = await dial(world, from: "api", "\(helloAddress):8080")
                #expect(apiToHello.hasPrefix("refused"), "api opened nothing")
                let apiToHost = await dial(world, from: "api", "\(gateway):\(opened.port)")
                #expect(apiToHost.hasPrefix("refused"))
                #expect(closed.accepted == 0, "a closed host port was reached")
                #expect(opened.accepted == 1, "only hello's one allowed dial reached the host")
                // The host still reaches every jail (health checks, Caddy).
                #expect(await world.fetch() == "prober")
            } catch {
                Issue.record(error)
            }
            await Self.deleteForeignPolicy()
            _ = try? await deployer.remove(apiApp)
        }
    }

    static let foreignBridge = "jpforeign0"

    /// The policy a second agent with no jails yet loads for its bridge, over 172.16.0.0/12.
    static func loadForeignPolicy() async throws {
        let network = try #require(IPv4Network("172.16.0.0/12"))
        let scratch = try Scratch("foreign-policy")
        let file = "\(scratch.path)/network.nft"
        try FileIO.replace(
            file, text: JailNetworkPolicy(members: [], reach: [:]).nftables(bridge: foreignBridge, network: network))
        let result = try await HostProcessRunner().run(Command("nft", ["-f", file]), timeout: .seconds(30))
        try #require(result.status == 0, "nft -f \(file) failed")
    }

    static func deleteForeignPolicy() async {
        for family in ["inet", "bridge"] {
            _ = try? await HostProcessRunner().run(
                Command("nft", ["delete", "table", family, "jailpilot_jails_\(foreignBridge)"]), timeout: .seconds(30))
        }
    }
}
