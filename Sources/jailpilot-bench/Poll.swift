import Foundation
import JailPilot

/// CPU seconds used so far by this process and its reaped children: the agent pays for both.
func cpuSeconds() -> Double {
    func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    var total = 0.0
    for who in [RUSAGE_SELF, RUSAGE_CHILDREN] {
        var usage = rusage()
        getrusage(__rusage_who_t(who.rawValue), &usage)
        total += s(usage.ru_utime) + s(usage.ru_stime)
    }
    return total
}

func measure(_ label: String, iterations: Int, _ body: () async throws -> Void) async throws -> (wall: Double, cpu: Double) {
    let clock = ContinuousClock()
    let cpu0 = cpuSeconds()
    let start = clock.now
    for _ in 0..<iterations { try await body() }
    let wall = (clock.now - start).seconds / Double(iterations)
    let cpu = (cpuSeconds() - cpu0) / Double(iterations)
    print(String(format: "%@: wall %.3f ms/poll, cpu %.3f ms/poll", label, wall * 1000, cpu * 1000))
    return (wall, cpu)
}

/// `poll URL N`: libgit2 ls-remote vs `git ls-remote` subprocess against the same remote.
func benchPoll(url: String, iterations: Int) async throws {
    let refs = RemoteRefs()
    let access = RemoteAccess(url: url)
    _ = try await refs.list(access)  // warm-up: libgit2 init, page cache
    let runner = HostProcessRunner()
    let libgit2 = try await measure("libgit2 ls-remote", iterations: iterations) {
        _ = try await refs.list(access)
    }
    let git = try await measure("git ls-remote subprocess", iterations: iterations) {
        _ = try await runner.checked(Command("git", ["ls-remote", url]))
    }
    print(String(format: "ratio libgit2/subprocess: cpu %.2f, wall %.2f", libgit2.cpu / git.cpu, libgit2.wall / git.wall))
}
