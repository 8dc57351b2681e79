import Foundation
import JailPilot
import JailPilotTesting
import Testing

@Suite struct RoutingTests {
    /// A DNS query for `name` with `type` (1 = A, 28 = AAAA).
    func query(_ name: String, type: UInt8 = 1) -> [UInt8] {
        var packet: [UInt8] = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") {
            packet.append(UInt8(label.utf8.count))
            packet += Array(label.utf8)
        }
        return packet + [0, 0, type, 0, 1]
    }

    @Test func resolverAnswersFromTheRouteTableAndFollowsFlips() throws {
        let state = try Scratch("routes")
        let resolver = RouteResolver(stateDir: state.path)
        try RouteTable(addresses: ["hello": "172.31.0.7"]).save(stateDir: state.path)
        let reply = try #require(resolver.answer(query("hello.jailpilot.internal")))
        #expect(reply[0] == 0x12 && reply[1] == 0x34)  // same id
        #expect(reply[3] & 0x0f == 0)  // NOERROR
        #expect(reply[7] == 1)  // one answer
        #expect(Array(reply.suffix(4)) == [172, 31, 0, 7])
        // A flip is a rewrite of the table; the next query sees it.
        try RouteTable(addresses: ["hello": "172.31.0.9"]).save(stateDir: state.path)
        #expect(Array(try #require(resolver.answer(query("HELLO.jailpilot.internal"))).suffix(4)) == [172, 31, 0, 9])
    }

    @Test func unknownNamesAreNXDOMAINAndOtherTypesNODATA() throws {
        let state = try Scratch("routes")
        try RouteTable(addresses: ["hello": "172.31.0.7"]).save(stateDir: state.path)
        let resolver = RouteResolver(stateDir: state.path)
        #expect(try #require(resolver.answer(query("other.jailpilot.internal")))[3] & 0x0f == 3)
        #expect(try #require(resolver.answer(query("hello.example.org")))[3] & 0x0f == 3)
        let aaaa = try #require(resolver.answer(query("hello.jailpilot.internal", type: 28)))
        #expect(aaaa[3] & 0x0f == 0 && aaaa[7] == 0)
        #expect(resolver.answer([1, 2, 3]) == nil)
    }

    @Test func addressPoolSkipsHeldAddressesAndSaysWhenFull() throws {
        let state = try Scratch("pool")
        let store = try StateStore(stateDir: state.path)
        let network = try #require(IPv4Network("172.31.0.0/29"))  // hosts .1-.6; .1 is the gateway
        let pool = AddressPool(network: network, store: store)
        var addresses: [String] = []
        for i in 0..<5 {
            let address = try pool.allocate()
            addresses.append(address)
            _ = try store.seedRelease(app: "a", sha: String(repeating: "\(i)", count: 40), state: .live, address: address)
        }
        #expect(addresses == ["172.31.0.2", "172.31.0.3", "172.31.0.4", "172.31.0.5", "172.31.0.6"])
        let error = #expect(throws: DeployError.self) { try pool.allocate() }
        #expect(error?.description.contains("no free address in 172.31.0.0/29") == true)
        // A destroyed release gives its address back.
        let first = try #require(try store.releases(app: "a").last)
        try store.update(first, state: .destroyed)
        #expect(try pool.allocate() == "172.31.0.2")
    }

    @Test func httpResponsesWithChunkedBodiesParse() throws {
        let raw = Data("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".utf8)
        let response = try #require(try HTTPClient.parse(raw, endpoint: .tcp(host: "127.0.0.1", port: 1)))
        #expect(response.status == 200 && response.text == "hello world")
        let partial = Data("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".utf8)
        #expect(try HTTPClient.parse(partial, endpoint: .tcp(host: "127.0.0.1", port: 1)) == nil)
    }

    @Test func adminEndpointsParse() {
        #expect(HTTPEndpoint("http://127.0.0.1:2019") == .tcp(host: "127.0.0.1", port: 2019))
        #expect(HTTPEndpoint("http://localhost:2019/") == .tcp(host: "127.0.0.1", port: 2019))
        #expect(HTTPEndpoint("unix//run/caddy/admin.sock") == .unix(path: "/run/caddy/admin.sock"))
        #expect(HTTPEndpoint("ftp://x") == nil)
    }
}
