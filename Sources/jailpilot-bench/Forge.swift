import Foundation
import JailPilot

/// `forge URL AGENTS SECONDS INTERVAL_MS`: AGENTS simulated agents each list URL's refs every
/// INTERVAL_MS (with the agent's ±10 % jitter) for SECONDS; prints polls made, their latency
/// and failures. The forge's side (git daemon's CPU) is measured by scripts/bench-forge.
func benchForge(url: String, agents: Int, seconds: Int, interval: Duration) async throws {
    let access = RemoteAccess(url: url)
    _ = try await RemoteRefs().list(access)
    let clock = ContinuousClock()
    let end = clock.now + .seconds(seconds)
    let results = await withTaskGroup(of: (polls: Int, failed: Int, latencies: [Double]).self) { group in
        for _ in 0..<agents {
            group.addTask {
                var polls = 0
                var failed = 0
                var latencies: [Double] = []
                // Agents start at random points of their interval, as restarts spread them.
                try? await Task.sleep(for: interval * Double.random(in: 0...1))
                while clock.now < end {
                    let start = clock.now
                    do { _ = try await RemoteRefs().list(access) } catch { failed += 1 }
                    polls += 1
                    latencies.append((clock.now - start).seconds * 1000)
                    try? await Task.sleep(for: interval * Double.random(in: 0.9...1.1))
                }
                return (polls, failed, latencies)
            }
        }
        var all: (polls: Int, failed: Int, latencies: [Double]) = (0, 0, [])
        for await result in group {
            all.polls += result.polls
            all.failed += result.failed
            all.latencies += result.latencies
        }
        return all
    }
    let sorted = results.latencies.sorted()
    func quantile(_ q: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
    print(
        String(
            format: "agents %d, polls %d (%.1f/s), failed %d, latency p50 %.1f ms, p99 %.1f ms", agents, results.polls,
            Double(results.polls) / Double(seconds), results.failed, quantile(0.5), quantile(0.99)))
}
