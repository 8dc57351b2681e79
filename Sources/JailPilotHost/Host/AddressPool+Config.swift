import JailPilotCore

extension AddressPool {
    /// The pool of `config`'s jail network.
    public init(config: AgentConfig, store: StateStore) {
        var reserved: Set<String> = []
        if config.agent.platform == .freebsd, config.agent.buildSandbox {
            reserved.formUnion(FreeBSDBuildJail.addresses(in: config.jails.network, count: config.agent.maxParallelBuilds))
        }
        self.init(network: config.jails.network, store: store, reserved: reserved)
    }
}
