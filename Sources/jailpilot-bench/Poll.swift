import Foundation
import JailPilot

/// CPU seconds used so far by this process and its reaped children: the agent pays for both.
func cpuSeconds() -> Double {
    func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    var total = 0.0
    for children in [false, true] {
        let usage = resourceUsage(children: children)
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

/// `poll-memory URL N`: anonymous memory over two rounds of N libgit2 ref listings, and over the
/// same rounds of the wrappers alone (`blocking`, `withDeadline`), to tell warm-up from a leak
/// (leakCheckMemoryKiB(): on FreeBSD, without /proc, the peak resident size instead).
func benchPollMemory(url: String, iterations: Int) async throws {
    let refs = RemoteRefs()
    var access = RemoteAccess(url: url)
    // Deadline timers stay queued until they would fire, even when cancelled: keep them short so
    // that they are gone by the time each round is measured.
    access.listTimeout = .seconds(1)
    func rounds(_ label: String, count: Int = iterations, _ body: () async throws -> Void) async throws {
        var marks = [leakCheckMemoryKiB()]
        for _ in 0..<2 {
            for _ in 0..<count { try await body() }
            try await Task.sleep(for: .seconds(2))  // let deadline timers fire
            marks.append(leakCheckMemoryKiB())
        }
        let perCall = Double((marks[2] - marks[1]) * 1024) / Double(count)
        print(
            String(
                format: "%@: anonymous %d -> %d -> %d kB; second round %.0f bytes per call", label, marks[0], marks[1], marks[2],
                perCall))
    }
    for _ in 0..<50 { _ = try await refs.list(access) }  // warm-up
    try await rounds("ref listing") { _ = try await refs.list(access) }
    try await rounds("blocking { } alone") { _ = try await blocking { 1 } }
    try await rounds("withDeadline { } alone") { _ = try await withDeadline(.seconds(1), "x") { 1 } }
    // A fetch with nothing new: what each deploy pays. libgit2 < 1.6 leaked here (libgit2#6382).
    let mirror = Mirror(path: "/tmp/jailpilot-bench-mirror-\(getpid())")
    defer { try? FileIO.removeTree(mirror.path) }
    var fetchAccess = RemoteAccess(url: url)
    fetchAccess.fetchTimeout = .seconds(1)
    let fetches = max(1, iterations / 10)
    _ = try await mirror.fetch(fetchAccess, branch: "main")
    for _ in 0..<10 { _ = try await mirror.fetch(fetchAccess, branch: "main") }  // warm-up
    try await rounds("fetch, nothing new (\(fetches) per round)", count: fetches) {
        _ = try await mirror.fetch(fetchAccess, branch: "main")
    }
}
