import Foundation
import JailPilot

/// pf(4) as the FreeBSD stand-in models it: the rule subset jailpilot and its bootstrap write,
/// parsed as pfctl(8) would (a line it cannot read is refused, as pfctl refuses a syntax error),
/// evaluated as sys/netpfil/pf/pf.c does:
/// - a packet on a skipped interface (`set skip on`) passes untouched;
/// - states are looked up before any rule (pf_test: pf_test_state_* first) and are floating
///   (parse.y's default_statelock, pf.c BOUND_IFACE): a state matches on any interface. Its key
///   is the packet's addresses as seen in the direction that made it (pf_setup_pdesc: sidx/didx
///   by direction), so the same state matches that packet in that direction again and its
///   replies in the other direction, but not the same packet going the other way (a loopback's
///   out-then-in pass, or a forwarded packet leaving);
/// - rules in order, anchors where an `anchor` rule names them, the last match wins unless
///   `quick`; no match passes without state (pfattach_vnet: the default rule is pass, no
///   keep_state);
/// - `pass` keeps state by default (parse.y), with `flags S/SA` for TCP: only a connection's
///   first packet makes one.
struct StandInPF {
    enum Direction: String, Sendable { case `in`, out }

    /// One packet at one interface crossing.
    struct Packet: Sendable, CustomStringConvertible {
        var interface: String
        /// The interface's groups (ifconfig `group`, plus its driver's name: `epair`, `bridge`).
        var groups: Set<String>
        var direction: Direction
        var proto: String
        var source: String
        var sourcePort: Int
        var destination: String
        var destinationPort: Int
        var inet6 = false
        /// A connection's first packet (a SYN, or a first datagram).
        var initial: Bool
        var description: String {
            "\(direction) on \(interface) \(proto) \(source):\(sourcePort) > \(destination):\(destinationPort)"
        }
    }

    /// An address in a rule.
    enum Address: Equatable, Sendable {
        case any
        case network(CIDR, negated: Bool)
        /// `(self)`: every address of this host, as it is now (pf_if.c's dynaddr for "self").
        case `self`(negated: Bool)
        case list([Address])
    }

    struct Rule: Sendable, CustomStringConvertible {
        enum Action: Sendable, Equatable { case pass, block, anchor(String) }
        var action: Action
        var direction: Direction?
        var quick = false
        var interface: String?
        var inet6: Bool?
        var protos: [String]?
        var from = Address.any
        var fromPort: Int?
        var to = Address.any
        var toPort: Int?
        var keepState = true
        var text: String
        var description: String { text }
    }

    /// What a ruleset file holds: filter rules, `set skip on` interfaces, NAT lines (kept, not
    /// evaluated: the stand-in has no outside), `load anchor` lines.
    struct Ruleset: Sendable {
        var rules: [Rule] = []
        var skip: Set<String> = []
        var loads: [(anchor: String, file: String)] = []
    }

    struct SyntaxError: Error, CustomStringConvertible {
        var line: String
        var description: String { "pfctl: syntax error: \(line)" }
    }

    /// Parses a pf.conf as pfctl would, for the subset the product writes.
    static func parse(_ text: String) throws -> Ruleset {
        var set = Ruleset()
        for raw in text.split(separator: "\n") {
            var line = String(raw)
            if let hash = line.firstIndex(of: "#") { line = String(line[..<hash]) }
            line = line.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            var words = tokens(line)
            switch words.first {
            case "nat", "nat-anchor", "rdr-anchor", "binat-anchor": continue
            case "load":
                guard words.count == 5, words[1] == "anchor", words[3] == "from" else { throw SyntaxError(line: line) }
                set.loads.append((unquote(words[2]), unquote(words[4])))
            case "set":
                guard words.count >= 4, words[1] == "skip", words[2] == "on" else { throw SyntaxError(line: line) }
                set.skip.formUnion(words[3...].filter { !["{", "}", ","].contains($0) })
            case "anchor":
                guard words.count == 2 || (words.count == 3 && words[2] == "all") else { throw SyntaxError(line: line) }
                set.rules.append(Rule(action: .anchor(unquote(words[1])), text: line))
            case "pass", "block":
                let action: Rule.Action = words.removeFirst() == "pass" ? .pass : .block
                set.rules.append(try rule(action, &words, line))
            default: throw SyntaxError(line: line)
            }
        }
        return set
    }

    private static func rule(_ action: Rule.Action, _ words: inout [String], _ line: String) throws -> Rule {
        var rule = Rule(action: action, text: line)
        func take(_ word: String) -> Bool {
            guard words.first == word else { return false }
            words.removeFirst()
            return true
        }
        if action == .block { _ = take("return") || take("drop") }
        if take("in") { rule.direction = .in } else if take("out") { rule.direction = .out }
        rule.quick = take("quick")
        if take("on") {
            guard !words.isEmpty else { throw SyntaxError(line: line) }
            rule.interface = words.removeFirst()
        }
        if take("inet") { rule.inet6 = false } else if take("inet6") { rule.inet6 = true }
        if take("proto") { rule.protos = try list(&words, line) }
        if take("all") {
        } else {
            if take("from") {
                rule.from = try address(&words, line)
                if take("port") { rule.fromPort = try port(&words, line) }
            }
            if take("to") {
                rule.to = try address(&words, line)
                if take("port") { rule.toPort = try port(&words, line) }
            }
        }
        if take("keep") {
            guard take("state") else { throw SyntaxError(line: line) }
        } else if take("no") {
            guard take("state") else { throw SyntaxError(line: line) }
            rule.keepState = false
        }
        if take("flags") {
            guard take("S/SA") else { throw SyntaxError(line: line) }
        }
        guard words.isEmpty else { throw SyntaxError(line: line) }
        return rule
    }

    private static func list(_ words: inout [String], _ line: String) throws -> [String] {
        guard !words.isEmpty else { throw SyntaxError(line: line) }
        let first = words.removeFirst()
        guard first == "{" else { return [first] }
        var items: [String] = []
        while let word = words.first, word != "}" {
            words.removeFirst()
            if word != "," { items.append(word) }
        }
        guard !words.isEmpty, !items.isEmpty else { throw SyntaxError(line: line) }
        words.removeFirst()
        return items
    }

    private static func address(_ words: inout [String], _ line: String) throws -> Address {
        guard let first = words.first else { throw SyntaxError(line: line) }
        if first == "{" {
            return .list(try list(&words, line).map { try single($0, line) })
        }
        words.removeFirst()
        if first == "!" {
            guard !words.isEmpty else { throw SyntaxError(line: line) }
            return negate(try single(words.removeFirst(), line))
        }
        return try single(first, line)
    }

    private static func negate(_ address: Address) -> Address {
        switch address {
        case .network(let network, _): return .network(network, negated: true)
        case .self: return .self(negated: true)
        default: return address
        }
    }

    private static func single(_ word: String, _ line: String) throws -> Address {
        if word == "any" { return .any }
        if word == "(self)" { return .self(negated: false) }
        guard let network = CIDR(word) else { throw SyntaxError(line: line) }
        return .network(network, negated: false)
    }

    private static func port(_ words: inout [String], _ line: String) throws -> Int {
        guard let word = words.first, let port = Int(word), (1...65535).contains(port) else { throw SyntaxError(line: line) }
        words.removeFirst()
        return port
    }

    /// Words, with `{`, `}` and `,` standing alone and a `!` before an address split off.
    static func tokens(_ line: String) -> [String] {
        var spaced = line
        for mark in ["{", "}", ","] { spaced = spaced.replacingOccurrences(of: mark, with: " \(mark) ") }
        spaced = spaced.replacingOccurrences(of: "! ", with: "!").replacingOccurrences(of: "!", with: "! ")
        return spaced.split(separator: " ").map(String.init)
    }

    static func unquote(_ word: String) -> String { word.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }

    // MARK: - Evaluation

    /// A state's key: (proto, first, second) where the first endpoint is the source of the packet
    /// that made it if it came in, its destination if it went out (pf_setup_pdesc).
    struct StateKey: Hashable, Sendable {
        var proto: String
        var first: String
        var second: String
    }

    static func key(_ packet: Packet) -> StateKey {
        let source = "\(packet.source):\(packet.sourcePort)"
        let destination = "\(packet.destination):\(packet.destinationPort)"
        return packet.direction == .in
            ? StateKey(proto: packet.proto, first: source, second: destination)
            : StateKey(proto: packet.proto, first: destination, second: source)
    }

    /// What pf did with one packet.
    struct Verdict: Sendable {
        var passed: Bool
        /// The rule that decided, "state", "skip", "disabled" or "default".
        var by: String
    }

    /// Decides one packet: `rulesets` by anchor path ("" the main one), `selfAddresses` this
    /// host's addresses now; a state made is added to `states`.
    static func evaluate(
        _ packet: Packet, rulesets: [String: Ruleset], enabled: Bool, selfAddresses: Set<String>,
        states: inout Set<StateKey>
    ) -> Verdict {
        guard enabled else { return Verdict(passed: true, by: "disabled") }
        let skipped = rulesets[""]?.skip ?? []
        if skipped.contains(packet.interface) || !skipped.isDisjoint(with: packet.groups) {
            return Verdict(passed: true, by: "skip")
        }
        if states.contains(key(packet)) { return Verdict(passed: true, by: "state") }
        var decided: Rule?
        var quickStop = false
        func run(_ anchor: String, depth: Int) {
            guard depth < 8, let set = rulesets[anchor] else { return }
            for rule in set.rules where !quickStop {
                if case .anchor(let name) = rule.action {
                    let path = anchor.isEmpty ? name : "\(anchor)/\(name)"
                    if path.hasSuffix("/*") {
                        let parent = String(path.dropLast(2))
                        for child in rulesets.keys.sorted()
                        where child.hasPrefix(parent + "/") && !child.dropFirst(parent.count + 1).contains("/") {
                            run(child, depth: depth + 1)
                        }
                    } else {
                        run(path, depth: depth + 1)
                    }
                    continue
                }
                guard matches(rule, packet, selfAddresses: selfAddresses) else { continue }
                decided = rule
                if rule.quick { quickStop = true }
            }
        }
        run("", depth: 0)
        guard let rule = decided else { return Verdict(passed: true, by: "default") }
        if rule.action == .pass, rule.keepState, packet.initial || packet.proto != "tcp" {
            states.insert(key(packet))
        }
        return Verdict(passed: rule.action == .pass, by: rule.text)
    }

    static func matches(_ rule: Rule, _ packet: Packet, selfAddresses: Set<String>) -> Bool {
        if let direction = rule.direction, direction != packet.direction { return false }
        if let name = rule.interface, name != packet.interface, !packet.groups.contains(name) { return false }
        if let inet6 = rule.inet6, inet6 != packet.inet6 { return false }
        if packet.inet6 { return rule.inet6 == true || (rule.inet6 == nil && rule.from == .any && rule.to == .any) }
        if let protos = rule.protos, !protos.contains(packet.proto) { return false }
        if let port = rule.fromPort, port != packet.sourcePort { return false }
        if let port = rule.toPort, port != packet.destinationPort { return false }
        return contains(rule.from, packet.source, selfAddresses) && contains(rule.to, packet.destination, selfAddresses)
    }

    static func contains(_ address: Address, _ ip: String, _ selfAddresses: Set<String>) -> Bool {
        switch address {
        case .any: return true
        case .network(let network, let negated): return network.contains(ip) != negated
        case .self(let negated): return selfAddresses.contains(ip) != negated
        case .list(let items): return items.contains { contains($0, ip, selfAddresses) }
        }
    }
}

/// An IPv4 address or network as pf.conf writes it (`10.0.0.1`, `172.16.0.0/12`, `224.0.0.0/4`).
struct CIDR: Equatable, Sendable {
    var base: UInt32
    var prefix: Int

    init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let value = CIDR.value(String(parts[0])) else { return nil }
        let prefix = parts.count == 2 ? Int(parts[1]) : 32
        guard let prefix, (0...32).contains(prefix) else { return nil }
        self.prefix = prefix
        self.base = value & CIDR.mask(prefix)
    }

    static func mask(_ prefix: Int) -> UInt32 { prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix) }

    static func value(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var value: UInt32 = 0
        for octet in octets {
            guard let n = UInt32(octet), n <= 255 else { return nil }
            value = value << 8 | n
        }
        return value
    }

    func contains(_ ip: String) -> Bool {
        guard let value = CIDR.value(ip) else { return false }
        return value & CIDR.mask(prefix) == base
    }
}
