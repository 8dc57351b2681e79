import Foundation
import JailPilot

/// Records when the deployer flipped (its "flipped ..." progress line).
final class FlipClock: @unchecked Sendable {
    private let lock = NSLock()
    private var instant: ContinuousClock.Instant?
    func mark() { lock.withLock { instant = .now } }
    func take() -> ContinuousClock.Instant? {
        lock.withLock {
            defer { instant = nil }; return instant
        }
    }
}

/// GET / through Caddy for `host` until the body is `expected`; returns when it was seen.
func waitForBody(_ expected: String, front: Int, host: String, limit: Duration = .seconds(10)) async -> ContinuousClock.Instant? {
    let end = ContinuousClock.now + limit
    let client = HTTPClient(timeout: .seconds(2))
    while ContinuousClock.now < end {
        if let response = try? await client.send("GET", "/", to: .tcp(host: "127.0.0.1", port: front), host: host),
            response.status == 200, response.text == expected
        {
            return .now
        }
        try? await Task.sleep(for: .milliseconds(2))
    }
    return nil
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, Int((p / 100) * Double(sorted.count - 1) + 0.5))]
}

/// `flip CONFIG APP N BODY_OLD BODY_NEW FRONT_PORT`: alternates rollback (to the older running
/// release) and resume (to the branch head) N times; reports decision-to-first-new-response.
func benchFlip(config path: String, app name: String, flips: Int, old: String, new: String, front: Int) async throws {
    let config = try ConfigLoader.load(path: path)
    let runtime = try Runtime(config: config, echo: false)
    let app = try runtime.app(name)
    let host = app.hostnames[0]
    let clock = FlipClock()
    let deployer = try runtime.deployer(progress: { if $0.hasPrefix("flipped") { clock.mark() } })
    var latencies: [Double] = []
    for i in 0..<flips {
        let toOld = i % 2 == 0
        // Watch Caddy from before the decision, so the deployer's own wait is not counted.
        let watcher = Task { await waitForBody(toOld ? old : new, front: front, host: host) }
        let outcome = toOld ? try await deployer.rollback(app) : try await deployer.resume(app)
        guard outcome.phases.map(\.0).contains("start") == false else {
            print("flip \(i): target was not running (start + health), not counted")
            continue
        }
        guard let flipped = clock.take(), let seen = await watcher.value else {
            print("flip \(i): the new release was not seen through Caddy within 10 s")
            continue
        }
        latencies.append((seen - flipped).seconds * 1000)
    }
    print(
        String(
            format: "dynamic flips: %d measured, decision-to-first-response p50 %.1f ms, p99 %.1f ms, max %.1f ms",
            latencies.count,
            percentile(latencies, 50), percentile(latencies, 99), latencies.max() ?? .nan))
}

/// `reload ADMIN_PORT FRONT_PORT HOST ADDR1 ADDR2 PORT N`: the baseline, flipping a static
/// upstream through Caddy's admin API (each change reloads Caddy's config).
func benchReload(admin: Int, front: Int, host: String, addresses: [String], port: Int, flips: Int, bodies: [String]) async throws
{
    let client = HTTPClient(timeout: .seconds(10))
    var latencies: [Double] = []
    for i in 0..<flips {
        let target = i % 2
        let config: [String: Any] = [
            "admin": ["listen": "127.0.0.1:\(admin)"],
            "apps": [
                "http": [
                    "servers": [
                        "jailpilot": [
                            "listen": ["127.0.0.1:\(front)"], "automatic_https": ["disable": true],
                            "routes": [
                                [
                                    "match": [["host": [host]]],
                                    "handle": [
                                        ["handler": "reverse_proxy", "upstreams": [["dial": "\(addresses[target]):\(port)"]]]
                                    ],
                                ]
                            ],
                        ]
                    ]
                ]
            ],
        ]
        let start = ContinuousClock.now
        let body = try JSONSerialization.data(withJSONObject: config)
        let response = try await client.send("POST", "/load", to: .tcp(host: "127.0.0.1", port: admin), body: body)
        guard response.status == 200 else { throw BenchError(message: "POST /load: \(response.text)") }
        if let seen = await waitForBody(bodies[target], front: front, host: host) {
            latencies.append((seen - start).seconds * 1000)
        }
    }
    print(
        String(
            format: "reload flips: %d measured, decision-to-first-response p50 %.1f ms, p99 %.1f ms", latencies.count,
            percentile(latencies, 50), percentile(latencies, 99)))
}

struct BenchError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
