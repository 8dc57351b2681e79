import JailPilotCore

extension FreeBSDJails {
    /// `zfs get -H -o value` prints `-` for a user property that is not set (zfs-get(8)).
    public func ownership(_ spec: JailSpec) async -> JailOwnership {
        guard
            let result = try? await runner.run(
                Command("zfs", ["get", "-H", "-o", "value", Self.ownerProperty, dataset(spec.name)]), timeout: .seconds(10)),
            result.succeeded
        else { return .absent }
        return classify(result.stdoutText.trimmedWhitespace)
    }

    func classify(_ value: String) -> JailOwnership {
        guard value != "-", let found = OwnerID.parse(marker: value) else { return .unmarked }
        return found.id == owner.id ? .ours : .other(found)
    }

    /// `zfs list -H -o name,jailpilot:owner,jailpilot:mark -d 1` over the containers dataset:
    /// tab-separated, no header, `-` for a property that is not set.
    public func ownedJails() async -> [OwnedJail] {
        let parent = "\(settings.dataset)/containers"
        guard
            let result = try? await runner.run(
                Command(
                    "zfs",
                    [
                        "list", "-H", "-o", "name,\(Self.ownerProperty),\(Self.markProperty)", "-t", "filesystem", "-d", "1",
                        parent,
                    ]),
                timeout: .seconds(30)),
            result.succeeded
        else { return [] }
        return result.stdoutText.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 2, fields[0].hasPrefix(parent + "/"), classify(fields[1]) == .ours else { return nil }
            return OwnedJail(
                name: String(fields[0].dropFirst(parent.count + 1)), hasFilesystem: true,
                mark: fields.count > 2 ? CommitMark(text: Substring(fields[2])) : nil)
        }
    }

    /// The addresses jails hold now. VNET: each running jail's epair is named after its address,
    /// so `ifconfig -l` (every interface's name) lists them, builds' too. Alias: the aliases on
    /// the jail interface, where ip4.addr adds each jail's address (jail(8)).
    public func addressesInUse() async -> Set<String> {
        let vnet = settings.networkMode == .vnet
        let arguments = vnet ? ["-l"] : [settings.interface, "inet"]
        guard let result = try? await runner.run(Command("ifconfig", arguments), timeout: .seconds(10)), result.succeeded
        else { return [] }
        guard vnet else { return IPv4Network.inetAddresses(result.stdoutText) }
        return Set(
            result.stdoutText.split(whereSeparator: { $0 == " " || $0 == "\n" }).filter { $0.hasSuffix("a") }.compactMap {
                FreeBSDJailNetwork.address(ofEpair: String($0))
            })
    }

    /// sockstat(1) `-j JAIL -4 -c -P tcp -p PORT`: the jail's connected IPv4 TCP sockets on that
    /// port, columns USER COMMAND PID FD PROTO LOCAL FOREIGN. For a VNET jail sockstat attaches to
    /// the jail to read its own stack (usr.bin/sockstat/sockstat.c, main: jail_getvnet ==
    /// JAIL_SYS_NEW, then jail_attach); for an alias jail it keeps the jail's sockets of the
    /// host's. The app's accepted connections are the lines whose local address is the jail's.
    public func openConnections(_ spec: JailSpec) async -> Int? {
        let command = Command("sockstat", ["-j", spec.name, "-4", "-c", "-P", "tcp", "-p", String(spec.port)])
        guard let result = try? await runner.run(command, timeout: .seconds(10)), result.succeeded else { return nil }
        return result.stdoutText.split(separator: "\n").filter { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return fields.count >= 7 && fields[5] == "\(spec.address):\(spec.port)"
        }.count
    }

    public func adopt(_ spec: JailSpec) async throws {
        guard await ownership(spec) == .unmarked else { return }
        try await executor.execute(.run(Command("zfs", ["set", "\(Self.ownerProperty)=\(owner.marker)", dataset(spec.name)])))
    }
}
