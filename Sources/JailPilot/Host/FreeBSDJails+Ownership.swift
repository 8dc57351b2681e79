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

    /// The aliases on the jail interface: ip4.addr adds each jail's address there (jail(8)).
    public func addressesInUse() async -> Set<String> {
        guard
            let result = try? await runner.run(Command("ifconfig", [settings.interface, "inet"]), timeout: .seconds(10)),
            result.succeeded
        else { return [] }
        return IPv4Network.inetAddresses(result.stdoutText)
    }

    /// sockstat(1) `-4 -c -P tcp -p PORT`: connected IPv4 TCP sockets on that port, columns USER
    /// COMMAND PID FD PROTO LOCAL FOREIGN. A non-VNET jail's sockets are in the host's stack, so
    /// the app's accepted connections are the lines whose local address is the jail's.
    public func openConnections(_ spec: JailSpec) async -> Int? {
        let command = Command("sockstat", ["-4", "-c", "-P", "tcp", "-p", String(spec.port)])
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
