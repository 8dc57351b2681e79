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

                #expect(await dial(world, from: "hello", "\(apiAddress):8080") == "connected", "reach app:api")
                #expect(await dial(world, from: "hello", "\(gateway):\(opened.port)") == "connected", "reach host:PORT")
                #expect(await dial(world, from: "hello", "\(gateway):\(closed.port)").hasPrefix("refused"))
                #expect(await dial(world, from: "api", "\(helloAddress):8080").hasPrefix("refused"), "api opened nothing")
                #expect(await dial(world, from: "api", "\(gateway):\(opened.port)").hasPrefix("refused"))
                #expect(closed.accepted == 0, "a closed host port was reached")
                #expect(opened.accepted == 1, "only hello's one allowed dial reached the host")
                // The host still reaches every jail (health checks, Caddy).
                #expect(await world.fetch() == "prober")
            } catch {
                Issue.record(error)
            }
            _ = try? await deployer.remove(apiApp)
        }
    }
}
