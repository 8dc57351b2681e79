import Foundation
import JailPilot
import Synchronization

/// Requests through Caddy while something changes (a swap, a port change): `clients` loops of
/// GET `path`, each on a fresh connection with a generous time limit (a request held by Caddy
/// through a swap is slow, not failed). Counts answers by status; a request with no answer
/// counts as status 0.
final class LoadRun: Sendable {
    /// What the clients share.
    final class Tally: Sendable {
        let statuses = Mutex<[Int: Int]>([:])
        let latencies = Mutex<[Double]>([])
        let stopping = Mutex(false)
    }
    private let tally = Tally()
    private let tasks: [Task<Void, Never>]

    init(front: Int, host: String, path: String = "/", clients: Int = 6) {
        let tally = self.tally
        tasks = (0..<clients).map { _ in
            Task {
                let client = HTTPClient(timeout: .seconds(60))
                while !tally.stopping.withLock({ $0 }) {
                    let start = ContinuousClock.now
                    let status =
                        (try? await client.send("GET", path, to: .tcp(host: "127.0.0.1", port: front), host: host))?.status ?? 0
                    let took = (ContinuousClock.now - start).seconds
                    tally.statuses.withLock { $0[status, default: 0] += 1 }
                    tally.latencies.withLock { $0.append(took) }
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
        }
    }

    /// Stops the clients and waits for their last requests.
    func stop() async -> (total: Int, failed: [Int: Int], slowest: Double) {
        tally.stopping.withLock { $0 = true }
        for task in tasks { await task.value }
        let counts = tally.statuses.withLock { $0 }
        return (counts.values.reduce(0, +), counts.filter { $0.key != 200 }, tally.latencies.withLock { $0.max() ?? 0 })
    }
}
