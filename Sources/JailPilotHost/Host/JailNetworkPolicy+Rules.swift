import JailPilotCore

extension JailNetworkPolicy {
    /// The interface group the Linux driver puts every jail's port of `bridge` in (its veth's
    /// host end, `ip link set … group`): nonzero, and the same for the bridge's name every time.
    public static func portGroup(bridge: String) -> UInt32 {
        UInt32(fnv1a("jailpilot port group:" + bridge) % 0x7fff_fffe) + 1
    }

    /// The Linux ruleset: an inet table for jails → host (input from the jails' bridge) and a
    /// bridge table for jail → jail (bridged traffic never reaches the inet hooks). nft(8) applies
    /// a file as one transaction; declaring each table before deleting it makes that valid when
    /// it does not exist yet.
    ///
    /// A bridge table's forward hook sees the frames of every bridge on the host, so each of its
    /// rules names the ports it is for: those in this bridge's `portGroup` (`meta iifgroup`, core
    /// nftables in every family; `meta ibrname` needs CONFIG_NFT_BRIDGE_META, which not every
    /// kernel has). Unscoped, another jail network's drop (another state_dir, an overlapping
    /// range) cut this one's jails off from each other.
    public func nftables(bridge: String, network: IPv4Network) -> String {
        let quotedBridge = "\"\(bridge)\""
        let ports = "meta iifgroup \(Self.portGroup(bridge: bridge))"
        // One pair of tables per bridge: two state_dirs on one host (two jail networks) never
        // overwrite each other's rules. Bridge names are 1-15 letters and digits (agent.conf).
        let table = "jailpilot_jails_\(bridge)"
        var text = """
            # Written by jailpilot: what the jails on \(bridge) may reach. Rewritten when releases start or stop.
            table inet \(table)
            delete table inet \(table)
            table inet \(table) {
                chain input {
                    type filter hook input priority 0; policy accept;
                    iifname \(quotedBridge) ct state established,related accept

            """
        for (from, port) in hostOpenings {
            text +=
                "        iifname \(quotedBridge) ip saddr \(from.address) tcp dport \(port) accept  # \(from.app) reach host:\(port)\n"
        }
        text += """
                    iifname \(quotedBridge) drop
                }
            }
            table bridge \(table)
            delete table bridge \(table)
            table bridge \(table) {
                chain forward {
                    type filter hook forward priority 0; policy accept;

            """
        for (from, to) in jailPairs {
            text +=
                "        \(ports) ip saddr \(from.address) ip daddr \(to.address) tcp dport \(to.port) accept  # \(from.app) reach app:\(to.app)\n"
            text += "        \(ports) ip saddr \(to.address) ip daddr \(from.address) tcp sport \(to.port) accept\n"
        }
        text += """
                    \(ports) ip saddr \(network) ip daddr \(network) drop
                }
            }

            """
        return text
    }

    /// The FreeBSD rules for the pf anchor `jailpilot/jails`. docs/FREEBSD.md, "Isolation",
    /// argues each line from FreeBSD's sources; in short:
    /// - `vnet`: a jail has its own network stack, and everything it sends enters this host on
    ///   the host end of its epair (`jp<hex>a`, interface group `jpjail`), a member of `bridge`,
    ///   where if_bridge runs pf (net.link.bridge.pfil_member=1; pfil_local_phys=1 for what is
    ///   delivered to this host or routed on): to another jail (bridged), to this host and to
    ///   the outside (routed, NATed on the egress). What this host sends a jail is seen going
    ///   out on the bridge only (ip_output), never on the member.
    ///   Each jail may send from its own address only, to what its `reach` opens and to DNS on
    ///   the gateway; nothing else of this host or the jails' network; IPv4 to the outside. What
    ///   goes *towards* a jail (Caddy, health checks, an allowed jail) passes with state, so its
    ///   replies pass by that state, before any rule.
    /// - `alias`: the jails' addresses are this host's own (aliases on lo1), and their traffic to
    ///   the host or each other never leaves the host's stack: no rule here can isolate them, so
    ///   none is written (the anchor is emptied) and doctor and status say they are not isolated.
    public func pf(network: IPv4Network, bridge: String, mode: JailNetworkMode) -> String {
        var text = "# Written by jailpilot: what the jails may reach. Loaded with pfctl -a jailpilot/jails -f FILE.\n"
        guard mode == .vnet else {
            return text
                + "# network_mode = \"alias\": the jails' addresses are this host's own (lo1 aliases), so no pf rule can\n"
                + "# isolate them (docs/FREEBSD.md, \"Isolation\"). No rules: set network_mode = \"vnet\" for isolation.\n"
        }
        let group = FreeBSDJailNetwork.group
        let gateway = network.host(1) ?? ""
        text += """
            # VNET jails: what a jail sends enters this host on its epair's host end (group \(group)), a member of
            # \(bridge), where pf sees it (net.link.bridge.pfil_member=1, pfil_local_phys=1). docs/FREEBSD.md, "Isolation".
            # Towards a jail (from this host, or from a jail let in below): kept state, so replies pass.
            pass out quick on \(bridge) inet from any to \(network) keep state
            pass out quick on \(group) inet all keep state
            # No IPv6 from a jail: a link-local address would reach this host's sockets on the bridge.
            block drop in quick on \(group) inet6 all

            """
        for member in members {
            guard let pair = FreeBSDJailNetwork.epair(for: member.address) else { continue }
            text += "# \(member.app) at \(member.address)\n"
            text += "block drop in quick on \(pair)a inet from ! \(member.address) to any  # its own address only\n"
            for (from, port) in hostOpenings where from == member {
                text +=
                    "pass in quick on \(pair)a proto tcp from \(from.address) to (self) port \(port)  # \(from.app) reach host:\(port)\n"
            }
            for (from, to) in jailPairs where from == member {
                text +=
                    "pass in quick on \(pair)a proto tcp from \(from.address) to \(to.address) port \(to.port)  # \(from.app) reach app:\(to.app)\n"
            }
        }
        text += """
            # Every jail (builds too): DNS on the gateway (local_unbound), then nothing else of this host (its
            # addresses, broadcast and multicast, which its wildcard sockets take too) or the jails' network,
            # then the outside (NATed on the egress interface).
            pass in quick on \(group) proto { tcp, udp } from \(network) to \(gateway) port 53 keep state  # DNS
            block return in quick on \(group) inet from any to { (self), \(network), 255.255.255.255, 224.0.0.0/4 }
            pass in quick on \(group) inet from \(network) to any keep state
            block drop in quick on \(group) all
            # Again where what a jail sends this host comes up from the bridge (ip_input on \(bridge)): what
            # passed above passes here by its state; this holds even if pfil_local_phys is off.

            """
        for (from, port) in hostOpenings {
            text +=
                "pass in quick on \(bridge) proto tcp from \(from.address) to (self) port \(port)  # \(from.app) reach host:\(port)\n"
        }
        text += """
            pass in quick on \(bridge) proto { tcp, udp } from \(network) to \(gateway) port 53 keep state  # DNS
            block return in quick on \(bridge) inet from \(network) to { (self), 255.255.255.255, 224.0.0.0/4 }
            block drop in quick on \(bridge) inet6 all

            """
        return text
    }
}
