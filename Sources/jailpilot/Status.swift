import ArgumentParser
import FoundationEssentials
import JailPilot

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Per app: the live release, its address and health, where traffic is routed now, branch head, pin or hold, kept releases, last failure."
    )

    @OptionGroup var options: ConfigOption
    @Argument(help: "Only this app.") var app: String?
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let runtime = try options.runtime(echo: false)
        let apps = try app.map { [try runtime.app($0)] } ?? runtime.config.apps
        var statuses: [AppStatus] = []
        for app in apps {
            statuses.append(
                try await AppStatus.collect(
                    app, store: runtime.store, mirror: runtime.layout.mirror(app.name), resolver: runtime.config.caddy.resolver,
                    layout: runtime.layout, gate: SourcePipeline(runtime: runtime).gate))
        }
        // What the host leaves unenforced now (`jailpilot doctor` has the fixes).
        // Asked of this host only when it is the platform agent.conf configures.
        var gaps: [String] = []
        if runtime.config.agent.platform == PlatformKind.current, let host = try? runtime.jailHost() {
            gaps = await host.enforcementGaps().compactMap(\.gap)
        }
        for index in statuses.indices { statuses[index].host = gaps }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(statuses), as: UTF8.self))
        } else {
            for gap in gaps { print("host: \(gap) (jailpilot doctor)") }
            if !gaps.isEmpty { print("") }
            print(statuses.map(\.text).joined(separator: "\n\n"))
            if app == nil { print("\n" + (try stateDirSummary(runtime))) }
        }
    }

    /// "state_dir /var/db/jailpilot: 812.3 MiB (state.db 1.2 MiB); removed from agent.conf: old (its files go after …)".
    func stateDirSummary(_ runtime: Runtime) throws -> String {
        let root = runtime.layout.root
        var text =
            "state_dir \(root): \(ByteCount.approximate(DiskUsage.bytes(root))) "
            + "(state.db \(ByteCount.approximate(DiskUsage.bytes("\(root)/state.db") + DiskUsage.bytes("\(root)/state.db-wal"))))"
        let removed = try runtime.store.removedApps()
        if !removed.isEmpty {
            let grace = Retention.removedAppGrace.seconds
            text +=
                "\nremoved from agent.conf: "
                + removed.map {
                    "\($0.app) (\(ByteCount.approximate(AppDiskUse.measure($0.app, layout: runtime.layout).total)), "
                        + "goes after \(EventLog.timestamp($0.since.addingTimeInterval(grace))))"
                }.joined(separator: ", ")
        }
        return text
    }
}
