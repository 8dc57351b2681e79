/// Allocates jail addresses from `[jails] network`: host 1 is the host's gateway, releases
/// get the lowest address no other kept release holds.
public struct AddressPool: Sendable {
    public let network: IPv4Network
    public let store: StateStore
    /// Addresses never given to a release (FreeBSD: the build jails' address).
    public let reserved: Set<String>

    public init(network: IPv4Network, store: StateStore, reserved: Set<String> = []) {
        self.network = network
        self.store = store
        self.reserved = reserved
    }

    /// A free address, or `DeployError.poolExhausted`. `inUse` are addresses the host has on
    /// its jail interfaces right now (a jail the store does not know of may hold one).
    public func allocate(excluding inUse: Set<String> = []) throws -> String {
        try pick(held: try store.releases(in: Self.holding).compactMap(\.address), inUse: inUse)
    }

    /// The states whose releases hold their address.
    static let holding: [ReleaseState] = [.built, .provisioned, .starting, .healthy, .live, .standby, .retired]

    /// The first address neither `held` by a release nor `inUse` on the host nor reserved.
    func pick(held: [String], inUse: Set<String>) throws -> String {
        let used = Set((held + inUse + reserved).compactMap(network.index(of:)))
        var n = 2
        while n <= network.hostCount {
            if !used.contains(n), let address = network.host(n) { return address }
            n += 1
        }
        throw DeployError.poolExhausted(network: network.description, used: used.count)
    }
}
