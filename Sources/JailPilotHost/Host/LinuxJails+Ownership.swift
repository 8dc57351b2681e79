import FoundationEssentials
import JailPilotCore

extension LinuxJails {
    public func ownership(_ spec: JailSpec) async -> JailOwnership {
        guard FileIO.exists(container(spec.name)) else { return await netnsOwnership(spec.name) }
        guard let text = try? FileIO.readText(marker(spec.name)), let found = OwnerID.parse(marker: text.trimmedWhitespace)
        else { return .unmarked }
        guard found.id == owner.id else { return .other(found) }
        // Our filesystem, but a namespace of that name made by someone else is still not ours.
        if case .other(let netnsOwner) = await netnsOwnership(spec.name) { return .other(netnsOwner) }
        return .ours
    }

    /// The owner marker on network namespace `name`, read from its loopback's alias.
    func netnsOwnership(_ name: String) async -> JailOwnership {
        guard FileIO.exists("/run/netns/\(name)") else { return .absent }
        guard
            let result = try? await runner.run(
                Command("ip", ["-n", name, "-o", "link", "show", "dev", "lo"]), timeout: .seconds(10)),
            result.succeeded
        else { return .unmarked }
        let words = result.stdoutText.split { $0.isWhitespace || $0 == "\\" }
        guard let at = words.firstIndex(of: "alias"), at + 1 < words.count, words[at + 1].hasPrefix("jailpilot:") else {
            return .unmarked
        }
        let id = String(words[at + 1].dropFirst("jailpilot:".count))
        return id == owner.id ? .ours : OwnerID.isID(id) ? .other(OwnerID(id: id, stateDir: "")) : .unmarked
    }

    public func ownedJails() async -> [OwnedJail] {
        var found: [OwnedJail] = []
        let containers = (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/containers")) ?? []
        for name in containers.sorted() where !name.hasPrefix(".") {
            if let text = try? FileIO.readText(marker(name)), OwnerID.parse(marker: text.trimmedWhitespace)?.id == owner.id {
                found.append(OwnedJail(name: name, hasFilesystem: true, mark: OwnerID.mark(inMarker: text.trimmedWhitespace)))
            }
        }
        let namespaces = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        for name in namespaces.sorted() where !containers.contains(name) && ReleaseName(parsing: name) != nil {
            if await netnsOwnership(name) == .ours { found.append(OwnedJail(name: name, hasFilesystem: false)) }
        }
        return found
    }

    public func addressesInUse() async -> Set<String> {
        guard
            let result = try? await runner.run(
                Command("ip", ["-all", "netns", "exec", "ip", "-o", "-4", "addr", "show"]), timeout: .seconds(30))
        else { return [] }
        return IPv4Network.inetAddresses(result.stdoutText)
    }

    /// ss(8) in the host's namespace: Caddy's connections to the jail's address and port.
    public func openConnections(_ spec: JailSpec) async -> Int? {
        let command = Command("ss", ["-H", "-t", "-n", "state", "established", "dst", "\(spec.address):\(spec.port)"])
        guard let result = try? await runner.run(command, timeout: .seconds(10)), result.succeeded else { return nil }
        return result.stdoutText.split(separator: "\n").filter { !$0.trimmedWhitespace.isEmpty }.count
    }

    public func adopt(_ spec: JailSpec) async throws {
        if FileIO.exists(container(spec.name)), !FileIO.exists(marker(spec.name)) {
            try await executor.execute(.write(path: marker(spec.name), content: owner.marker + "\n", mode: 0o600))
        }
        if await netnsOwnership(spec.name) == .unmarked {
            try await executor.execute(.run(Command("ip", ["-n", spec.name, "link", "set", "dev", "lo", "alias", netnsAlias])))
        }
    }
}
