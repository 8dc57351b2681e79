import Foundation
import JailPilot

/// The host's interfaces and the way a packet crosses them, so that tests can ask what a jail
/// reaches under the pf rules loaded now. Interfaces are files `<hostDir>/ifaces/NAME` of
/// `key=value` lines (kind, peer, groups, bridge, vnet, inet), shared with the ifconfig(8)
/// stand-in that jailpilot's jail-net helper runs (Fixtures/freebsd/ifconfig).
///
/// Paths, from FreeBSD's sources (docs/FREEBSD.md, "Isolation", cites each):
/// - VNET: what a jail sends leaves its stack on its epair's `b` end and enters the host on the
///   `a` end, a bridge member. Bridged to another jail: pf runs `in` on the sending member and
///   `out` on the receiving one when net.link.bridge.pfil_member=1 (bridge_forward). To this
///   host or routed on: `in` on the member only when pfil_local_phys=1 as well, then `in` on the
///   bridge (bridge_input's GRAB_OUR_PACKETS hands it up with the bridge as rcvif; ip_input).
///   Routed on: `out` on the egress interface. From this host to a jail: `out` on the bridge
///   only (ip_output; bridge_transmit runs no member filter). A jail's packet to its own
///   address or 127.0.0.1 stays in its own stack.
/// - Alias: a jail's address is this host's, on lo1. Anything to an address on lo1 (another
///   jail, the gateway, its own) goes out and comes back in on lo1 (no loopback route via lo0
///   for an address on a loopback interface: in.c ia_need_loopback_route; if_loop.c looutput ->
///   if_simloop); to this host's other addresses out and in on lo0.
extension FreeBSDStandIn {
    /// Where a packet starts or ends.
    enum Side: Hashable, CustomStringConvertible {
        case host
        case jail(String)
        case outside
        var description: String {
            switch self {
            case .host: return "the host"
            case .jail(let name): return "jail \(name)"
            case .outside: return "the outside"
            }
        }
    }

    /// What a connection attempt came to.
    enum Reach: Equatable, CustomStringConvertible {
        case connected(Side)
        /// Dropped by pf: where, and by which rule.
        case blocked(String)
        /// Nothing listens there.
        case refused
        var description: String {
            switch self {
            case .connected(let side): return "connected to \(side)"
            case .blocked(let why): return "blocked: \(why)"
            case .refused: return "refused: nothing listens"
            }
        }
        var isConnected: Bool { if case .connected = self { true } else { false } }
    }

    var ifaceDir: String { "\(hostDir)/ifaces" }
    /// The egress interface and its address (TEST-NET-1: modelled, never contacted).
    static let egress = (name: "vtnet0", address: "192.0.2.10")

    /// Every interface in the host's own stack, by name, as key=value pairs.
    func interfaces() -> [String: [String: String]] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: ifaceDir)) ?? []
        var out: [String: [String: String]] = [:]
        for name in names where !name.hasSuffix(".new") {
            let text = (try? String(contentsOfFile: "\(ifaceDir)/\(name)", encoding: .utf8)) ?? ""
            var fields: [String: String] = [:]
            for line in text.split(separator: "\n") {
                guard let eq = line.firstIndex(of: "=") else { continue }
                fields[String(line[..<eq])] = String(line[line.index(after: eq)...])
            }
            out[name] = fields
        }
        return out
    }

    func writeInterface(_ name: String, _ fields: [String: String]) throws {
        try FileIO.makeDirectories(ifaceDir)
        try FileIO.replace(
            "\(ifaceDir)/\(name)", text: fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)\n" }.joined())
    }

    func removeInterface(_ name: String) { unlink("\(ifaceDir)/\(name)") }

    /// ifconfig(8) as the driver runs it itself: `ifconfig NAME` (its flags, addresses and groups),
    /// `ifconfig NAME inet` (its IPv4 addresses), `ifconfig -l` (every interface's name).
    func ifconfig(_ argv: [String]) -> ProcessResult {
        let all = interfaces()
        if argv == ["-l"] {
            return ok(all.filter { ($0.value["vnet"] ?? "").isEmpty }.keys.sorted().joined(separator: " ") + "\n")
        }
        guard let name = argv.first, argv.count <= 2, argv.count == 1 || argv[1] == "inet", let iface = all[name],
            (iface["vnet"] ?? "").isEmpty
        else { return fail("ifconfig: interface \(argv.first ?? "") does not exist") }
        var addresses = (iface["inet"] ?? "").split(separator: " ").map(String.init)
        if name == "lo1" { addresses += lock.withLock { jails.values.filter { !$0.vnet }.map(\.address) }.filter { !$0.isEmpty } }
        let kind = iface["kind"] ?? "ether"
        var text = "\(name): flags=8049<UP,\(kind == "loopback" ? "LOOPBACK," : "")RUNNING,MULTICAST> metric 0 mtu 16384\n"
        text += addresses.enumerated().map { "\tinet \($0.element) netmask \($0.offset == 0 ? "0xfff00000" : "0xffffffff")\n" }
            .joined()
        let groups = ([kind == "loopback" ? "lo" : kind] + (iface["groups"] ?? "").split(separator: " ").map(String.init))
        text += "\tgroups: \(groups.joined(separator: " "))\n"
        return ok(text)
    }

    /// This host's own addresses now: what `(self)` means to pf.
    var hostAddresses: Set<String> {
        var out: Set<String> = []
        for (_, iface) in interfaces() where (iface["vnet"] ?? "").isEmpty {
            for address in (iface["inet"] ?? "").split(separator: " ") { out.insert(String(address)) }
        }
        for jail in lock.withLock({ jails.values }) where !jail.vnet && !jail.address.isEmpty { out.insert(jail.address) }
        return out
    }

    /// A sysctl's value on the stand-in host, nil when the kernel has no such name.
    func sysctl(_ name: String) -> String? {
        (try? String(contentsOfFile: "\(hostDir)/sysctl/\(name)", encoding: .utf8))?.trimmingCharacters(
            in: .whitespacesAndNewlines)
    }

    /// The jail whose address (VNET: inside its own stack; alias: on lo1) is `address`.
    func jail(at address: String) -> (name: String, jail: Jail)? {
        lock.withLock { jails.first { $0.value.address == address }.map { ($0.key, $0.value) } }
    }

    /// The crossings a packet from `from` to `destination` makes, and where it ends up.
    func path(from: Side, to destination: String) -> (crossings: [(String, StandInPF.Direction)], to: Side) {
        let ifaces = interfaces()
        let bridged = ifaces.filter { $0.value["kind"] == "bridge" }.keys.first ?? "bridge0"
        let member = sysctl("net.link.bridge.pfil_member") == "1"
        let local = member && sysctl("net.link.bridge.pfil_local_phys") == "1"
        let target = jail(at: destination)
        let hostAddress =
            hostAddresses.contains(destination) || destination == "255.255.255.255"
            || (CIDR("224.0.0.0/4")?.contains(destination) ?? false)
        func epair(_ jail: Jail) -> String? { jail.vnet ? FreeBSDJailNetworkProbe.epair(jail.address).map { $0 + "a" } : nil }
        switch from {
        case .jail(let name):
            guard let source = lock.withLock({ jails[name] }) else { return ([], .outside) }
            if source.vnet {
                // Its own address, or its own loopback (127/8; the tests' jail network lives in 127/8 too).
                let loopback = destination.hasPrefix("127.") && !(CIDR(network)?.contains(destination) ?? false)
                if destination == source.address || loopback { return ([], .jail(name)) }
                let out = epair(source).map { [($0, StandInPF.Direction.in)] } ?? []
                if let target, target.jail.vnet, let dst = epair(target.jail) {
                    return (member ? out + [(dst, .out)] : [], .jail(target.name))
                }
                let ingress = (local ? out : []) + [(bridged, StandInPF.Direction.in)]
                if hostAddress { return (ingress, .host) }
                return (ingress + [(Self.egress.name, .out)], .outside)
            }
            // Alias: the jail's packets are this host's.
            return hostPath(to: destination, target: target)
        case .host:
            if let target, target.jail.vnet { return ([(bridged, .out)], .jail(target.name)) }
            return hostPath(to: destination, target: target)
        case .outside:
            return ([(Self.egress.name, .in)], hostAddress ? .host : .outside)
        }
    }

    /// A packet the host's own stack sends (the host, or an alias jail, whose addresses are the host's).
    private func hostPath(to destination: String, target: (name: String, jail: Jail)?) -> (
        crossings: [(String, StandInPF.Direction)], to: Side
    ) {
        let onLo1 = (interfaces()["lo1"]?["inet"] ?? "").split(separator: " ").contains { $0 == destination }
        let end: Side = target.map { .jail($0.name) } ?? .host
        if onLo1 || (target.map { !$0.jail.vnet } ?? false) { return ([("lo1", .out), ("lo1", .in)], end) }
        if hostAddresses.contains(destination) { return ([("lo0", .out), ("lo0", .in)], .host) }
        return ([(Self.egress.name, .out)], .outside)
    }

    /// The interface's groups as pf matches them: its driver's group and what `group` added.
    func groups(of name: String) -> Set<String> {
        let iface = interfaces()[name] ?? [:]
        var groups = Set((iface["groups"] ?? "").split(separator: " ").map(String.init))
        if let kind = iface["kind"] { groups.insert(kind == "loopback" ? "lo" : kind) }
        return groups
    }

    /// The address a sender in `side` uses: a jail its own; this host the interface address
    /// facing the destination (lo1 and the bridge hold the gateway; an alias jail's address is
    /// reached on lo1 from itself: in_pcbladdr takes the most specific address covering it).
    func sourceAddress(_ side: Side, to destination: String) -> String {
        switch side {
        case .jail(let name): return lock.withLock { jails[name]?.address } ?? "0.0.0.0"
        case .outside: return "198.51.100.7"
        case .host:
            if let target = jail(at: destination) {
                return target.jail.vnet ? (IPv4Network(network)?.host(1) ?? "") : destination
            }
            return hostAddresses.contains(destination) ? destination : Self.egress.address
        }
    }

    /// Whether something listens at `port` on `destination` in `side`: this host's wildcard
    /// listeners (`hostListeners`, e.g. sshd on *:22) take any of its addresses, an alias
    /// jail's included; a jail's app is a real process listening on its address here.
    func listens(_ side: Side, _ destination: String, _ port: Int, _ proto: String) -> Bool {
        switch side {
        case .outside: return true
        case .jail(let name):
            guard let jail = lock.withLock({ jails[name] }), proto == "tcp" else { return false }
            return Self.tcpListens(jail.address, port)
        case .host:
            if let jail = jail(at: destination), proto == "tcp", Self.tcpListens(jail.jail.address, port) { return false }
            return lock.withLock { hostListeners }.contains {
                $0.port == port && $0.proto == proto && ($0.address == nil || $0.address == destination)
            }
        }
    }

    /// The connection a process in `from` opens to `destination:port`: its first packet, then the
    /// reply, each through every crossing of its path under pf as loaded now. `spoofing` sends
    /// from another address than the jail's own (a VNET jail's root can set any).
    func connect(from: Side, to destination: String, port: Int, proto: String = "tcp", spoofing: String? = nil) -> Reach {
        let source = spoofing ?? sourceAddress(from, to: destination)
        let sourcePort = 50_000 + Int.random(in: 0..<10_000)
        let forward = path(from: from, to: destination)
        if let blocked = cross(forward.crossings, proto, source, sourcePort, destination, port, initial: true) {
            return .blocked(blocked)
        }
        // An alias jail's own address is this host's: the host's wildcard sockets answer there too.
        var end = forward.to
        if case .jail(let name) = end, let jail = lock.withLock({ jails[name] }), !jail.vnet,
            !listens(end, destination, port, proto), listens(.host, destination, port, proto)
        {
            end = .host
        }
        guard listens(end, destination, port, proto) else { return .refused }
        guard spoofing == nil else { return .connected(end) }  // the reply goes to the spoofed address
        let back = path(from: end, to: source)
        if let blocked = cross(back.crossings, proto, destination, port, source, sourcePort, initial: false) {
            return .blocked("the reply: " + blocked)
        }
        return .connected(end)
    }

    private func cross(
        _ crossings: [(String, StandInPF.Direction)], _ proto: String, _ source: String, _ sourcePort: Int,
        _ destination: String, _ destinationPort: Int, initial: Bool
    ) -> String? {
        let selfAddresses = hostAddresses
        for (interface, direction) in crossings {
            let packet = StandInPF.Packet(
                interface: interface, groups: groups(of: interface), direction: direction, proto: proto, source: source,
                sourcePort: sourcePort, destination: destination, destinationPort: destinationPort, initial: initial)
            let verdict = lock.withLock {
                StandInPF.evaluate(
                    packet, rulesets: pfParsed, enabled: pfEnabled, selfAddresses: selfAddresses, states: &pfStates)
            }
            if !verdict.passed { return "\(packet) by \(verdict.by)" }
        }
        return nil
    }

    static func tcpListens(_ address: String, _ port: Int) -> Bool {
        guard let inet = IPv4Network.socketAddress(address) else { return false }
        let fd = socket(AF_INET, socketStream, 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr = inet
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == 0
    }
}
