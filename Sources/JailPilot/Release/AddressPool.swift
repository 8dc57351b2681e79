/// Allocates jail addresses from `[jails] network`: host 1 is the host's gateway, releases
/// get the lowest address no other kept release holds.
public struct AddressPool: Sendable {
    public let network: IPv4Network
    public let store: StateStore

    public init(network: IPv4Network, store: StateStore) {
        self.network = network
        self.store = store
    }

    /// A free address, or `DeployError.poolExhausted`. `inUse` are addresses the host has on
    /// its jail interfaces right now (a jail the store does not know of may hold one).
    public func allocate(excluding inUse: Set<String> = []) throws -> String {
        let held = try store.releases(in: [.built, .provisioned, .starting, .healthy, .live, .standby, .retired])
        let used = Set((held.compactMap(\.address) + inUse).compactMap(network.index(of:)))
        var n = 2
        while n <= network.hostCount {
            if !used.contains(n), let address = network.host(n) { return address }
            n += 1
        }
        throw DeployError.poolExhausted(network: network.description, used: used.count)
    }
}
