import Foundation
import JailPilot
import Testing

/// The alert rules and the Grafana dashboard in monitoring/: they ask only for metrics the agent
/// writes, Prometheus' own tool accepts the rules, and the rules fire on recorded metrics as
/// their tests say (`promtool test rules`).
@Suite struct MonitoringTests {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("monitoring").path

    func text(_ name: String) throws -> String { try String(contentsOfFile: "\(Self.dir)/\(name)", encoding: .utf8) }

    /// Every `jailpilot_…` name in `text`.
    func metricNames(_ text: String) -> Set<String> {
        Set(text.matches(of: /jailpilot_[a-z_]+/).map { String($0.output) })
    }

    @Test func theRulesAndTheDashboardAskOnlyForWhatTheAgentWrites() throws {
        let rules = metricNames(try text("jailpilot.rules.yml")).filter { !$0.hasPrefix("jailpilot_prom") }
        let dashboard = metricNames(try text("grafana-dashboard.json"))
        #expect(!rules.isEmpty && !dashboard.isEmpty)
        #expect(rules.subtracting(Metrics.names).isEmpty, "not written by the agent: \(rules.subtracting(Metrics.names))")
        #expect(
            dashboard.subtracting(Metrics.names).isEmpty, "not written by the agent: \(dashboard.subtracting(Metrics.names))")
        let json = try JSONSerialization.jsonObject(with: Data(try text("grafana-dashboard.json").utf8)) as? [String: Any]
        let panels = json?["panels"] as? [[String: Any]] ?? []
        #expect(panels.count >= 8)
        for panel in panels {
            let targets = panel["targets"] as? [[String: Any]] ?? []
            #expect(targets.allSatisfy { ($0["expr"] as? String)?.isEmpty == false }, "\(panel["title"] ?? "")")
        }
    }

    @Test(.enabled(if: have("promtool"), "needs promtool (Debian's prometheus package; scripts/install-deps installs it)"))
    func promtoolAcceptsTheRulesAndTheyFireOnRecordedMetrics() async throws {
        let check = try await HostProcessRunner().run(
            Command("promtool", ["check", "rules", "\(Self.dir)/jailpilot.rules.yml"]), stdout: .capture, stderr: .capture,
            timeout: .seconds(60))
        #expect(check.succeeded, "\(check.stdoutText)\(check.stderrText)")
        let test = try await HostProcessRunner().run(
            Command("promtool", ["test", "rules", "jailpilot.rules.test.yml"], workingDirectory: Self.dir), stdout: .capture,
            stderr: .capture, timeout: .seconds(60))
        #expect(test.succeeded, "\(test.stdoutText)\(test.stderrText)")
        #expect(test.stdoutText.contains("SUCCESS"), "\(test.stdoutText)")
    }
}
