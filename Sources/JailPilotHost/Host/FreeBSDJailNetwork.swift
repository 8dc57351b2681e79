import JailPilotCore

/// How a FreeBSD jail (a release's or a build's) is networked, as jail.conf(5) lines and the
/// helper that makes its interfaces. docs/FREEBSD.md, "Isolation", argues from FreeBSD's
/// sources why the VNET form below is what pf can filter.
///
/// `vnet`: the jail has its own network stack. jail(8) runs exec.prestart on the host before the
/// jail exists; `jail-net create` makes an epair(4), names its two ends after the jail's
/// address (`jp<8 hex>a` on the host, `…b` for the jail), puts the host end in the interface
/// group `jpjail` and on the bridge that holds the gateway address. `vnet.interface` moves the
/// `b` end into the jail when it is made; exec.start, which runs inside the jail, gives it the
/// address and the default route before /etc/rc. exec.poststop destroys the pair.
/// `alias`: the seed article's lo1 alias in the host's own stack (jail(8) `interface`, `ip4.addr`).
struct FreeBSDJailNetwork: Sendable {
    var mode: JailNetworkMode
    /// The bridge (vnet) or loopback interface (alias) that holds the gateway address.
    var interface: String
    var network: IPv4Network
    /// jailpilot's jail-net helper on the host.
    var helper: String

    /// The interface group every jail's host-side epair joins; the pf rules name it.
    static let group = "jpjail"

    /// The epair's base name for a jail address: `jp` and the address's 32 bits in hex, so two
    /// jails never share one (addresses are unique on a host) and the name says whose it is;
    /// 11 characters with the end's letter, within IFNAMSIZ (16, with its NUL).
    static func epair(for address: String) -> String? {
        guard let value = IPv4Network.parse(address) else { return nil }
        let hex = String(value, radix: 16)
        return "jp" + String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// The address an epair name stands for (the inverse of `epair(for:)`), for `jp…a`/`jp…b` too.
    static func address(ofEpair name: String) -> String? {
        var text = Substring(name)
        guard text.hasPrefix("jp") else { return nil }
        text = text.dropFirst(2)
        if text.count == 9, let last = text.last, last == "a" || last == "b" { text = text.dropLast() }
        guard text.count == 8, text.allSatisfy(\.isHexDigit), let value = UInt32(text, radix: 16) else { return nil }
        return IPv4Network.format(value)
    }

    /// The jail.conf(5) lines (unindented) that give a jail its network: `address` nil is a jail
    /// with none (a build without `build_network`). `startsRC` runs /etc/rc once the interface is up.
    func confLines(address: String?, startsRC: Bool) -> [String] {
        let q = FreeBSDFiles.jailQuote
        var start = startsRC ? ["/bin/sh /etc/rc"] : []
        var lines: [String]
        switch mode {
        case .alias:
            lines = address.map { ["interface = \(q(interface));", "ip4.addr = \(q($0));"] } ?? ["ip4 = \"disable\";"]
        case .vnet:
            lines = ["vnet;"]  // without an interface: its own stack with a loopback only, no way out
            if let address, let pair = Self.epair(for: address), let gateway = network.host(1) {
                lines += [
                    "vnet.interface = \(q(pair + "b"));",
                    "exec.prestart += \(q("\(helper) create \(pair) \(interface)"));",
                    "exec.poststop += \(q("\(helper) destroy \(pair)"));",
                ]
                start =
                    [
                        "/sbin/ifconfig lo0 inet 127.0.0.1/8 up", "/sbin/ifconfig \(pair)b inet \(address)/\(network.prefix) up",
                        "/sbin/route -q add default \(gateway)",
                    ] + start
            }
        }
        return lines + start.enumerated().map { "exec.start \($0.offset == 0 ? "=" : "+=") \(q($0.element));" }
    }

    /// jail-net, which each VNET jail's jail.conf runs on the host: `create BASE BRIDGE` before
    /// the jail is made, `destroy BASE` after it is removed. Arguments only, never shell text.
    ///
    /// ifconfig(8) `epair create` prints the new `a` end's name (epairNa); `name` renames an
    /// interface; `group` adds it to an interface group, which pf rules can name; `addm` makes it
    /// a bridge member. Destroying one end of an epair destroys both (if_epair.c). A pair left by
    /// a jail whose poststop never ran (a crash) is destroyed first, so its name is free again.
    static let helperScript = """
        #!/bin/sh
        # Written by jailpilot: a VNET jail's epair(4), from its jail.conf
        # (exec.prestart: create BASE BRIDGE, exec.poststop: destroy BASE). The host end BASEa
        # joins the interface group jpjail, whose traffic the pf anchor jailpilot/jails filters,
        # and the bridge; jail(8) moves BASEb into the jail (vnet.interface).
        set -u
        usage() { echo "usage: jail-net create BASE BRIDGE | destroy BASE" >&2; exit 2; }
        action=${1:-} base=${2:-}
        case "$base" in jp[0-9a-f]*) ;; *) usage ;; esac
        case "$action" in
        create)
            bridge=${3:-}
            [ -n "$bridge" ] || usage
            if ! /sbin/ifconfig "$bridge" >/dev/null 2>&1; then
                echo "jail-net: there is no bridge $bridge for the jails: run bootstrap-freebsd-host (docs/FREEBSD.md)" >&2
                exit 1
            fi
            /sbin/ifconfig "${base}a" destroy 2>/dev/null
            made=$(/sbin/ifconfig epair create) || exit 1
            other="${made%a}b"
            if ! /sbin/ifconfig "$made" name "${base}a" >/dev/null; then
                /sbin/ifconfig "$made" destroy
                exit 1
            fi
            if ! { /sbin/ifconfig "$other" name "${base}b" >/dev/null &&
                /sbin/ifconfig "${base}a" group jpjail up &&
                /sbin/ifconfig "$bridge" addm "${base}a"; }; then
                echo "jail-net: cannot put ${base}a on $bridge" >&2
                /sbin/ifconfig "${base}a" destroy
                exit 1
            fi
            ;;
        destroy) /sbin/ifconfig "${base}a" destroy 2>/dev/null || true ;;
        *) usage ;;
        esac

        """
}

/// Test access to the epair names (the network writer itself stays internal).
public enum FreeBSDJailNetworkProbe {
    /// `jp<8 hex>`: the epair base name of a jail address.
    public static func epair(_ address: String) -> String? { FreeBSDJailNetwork.epair(for: address) }
    /// The address an epair name stands for.
    public static func address(_ epair: String) -> String? { FreeBSDJailNetwork.address(ofEpair: epair) }
    /// The jail.conf lines that network a jail.
    public static func confLines(
        mode: JailNetworkMode, interface: String, network: IPv4Network, address: String?, startsRC: Bool
    ) -> [String] {
        FreeBSDJailNetwork(mode: mode, interface: interface, network: network, helper: FreeBSDPaths().netHelper)
            .confLines(address: address, startsRC: startsRC)
    }
}
