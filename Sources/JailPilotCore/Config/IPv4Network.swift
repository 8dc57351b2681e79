import Glibc

/// An IPv4 network in CIDR form, e.g. `172.16.0.0/12`.
public struct IPv4Network: Sendable, Hashable, CustomStringConvertible {
    /// The network address as a 32-bit number (host bits zero).
    public var base: UInt32
    public var prefix: Int

    /// Parses `a.b.c.d/n`; `nil` when malformed or host bits are set.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let prefix = Int(parts[1]), (8...30).contains(prefix),
            let address = IPv4Network.parse(String(parts[0]))
        else { return nil }
        let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix)
        guard address & ~mask == 0 else { return nil }
        self.base = address
        self.prefix = prefix
    }

    /// Number of usable host addresses (network and broadcast excluded).
    public var hostCount: Int { (1 << (32 - prefix)) - 2 }

    /// The `n`th host address (1-based): host 1 is the gateway the host holds.
    public func host(_ n: Int) -> String? {
        guard n >= 1, n <= hostCount else { return nil }
        return IPv4Network.format(base + UInt32(n))
    }

    /// The host index of `address` in this network, if it is inside.
    public func index(of address: String) -> Int? {
        guard let value = IPv4Network.parse(address), value > base else { return nil }
        let n = Int(value - base)
        return n <= hostCount ? n : nil
    }

    /// Dotted netmask, e.g. `255.240.0.0`.
    public var netmask: String { IPv4Network.format(~UInt32(0) << (32 - prefix)) }

    public var description: String { "\(IPv4Network.format(base))/\(prefix)" }

    package static func parse(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var value: UInt32 = 0
        for octet in octets {
            guard !octet.isEmpty, octet.count <= 3, octet.allSatisfy(\.isASCII), let n = UInt32(octet), n <= 255
            else { return nil }
            value = value << 8 | n
        }
        return value
    }

    package static func format(_ value: UInt32) -> String {
        [24, 16, 8, 0].map { String((value >> UInt32($0)) & 0xff) }.joined(separator: ".")
    }
}

extension IPv4Network {
    /// A dotted quad (`127.0.0.1`) as a sockaddr_in's `sin_addr` (network byte order); `nil` when
    /// malformed. Parsed here, not by libc's inet_pton or inet_addr: FreeBSD's <arpa/inet.h>
    /// defines those as macros (`#define inet_pton __inet_pton`), which Swift does not import.
    public static func socketAddress(_ text: String) -> in_addr? {
        parse(text).map { in_addr(s_addr: $0.bigEndian) }
    }

    /// Every `inet A.B.C.D` in `ip -o -4 addr` or `ifconfig` output.
    /// Used by both drivers to find addresses held on the host.
    package static func inetAddresses(_ text: String) -> Set<String> {
        var out = Set<String>()
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        for (index, word) in words.enumerated() where word == "inet" && index + 1 < words.count {
            let address = words[index + 1].prefix { $0 != "/" }
            if IPv4Network.parse(String(address)) != nil { out.insert(String(address)) }
        }
        return out
    }
}
