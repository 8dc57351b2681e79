import Foundation
import JailPilot

#if canImport(Glibc)
    import Glibc
#endif

/// A free TCP port on 127.0.0.1 (bound, read, released).
func freePort() -> Int {
    let fd = socket(AF_INET, socketStream, 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr = IPv4Network.socketAddress("127.0.0.1")!
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A TCP socket connected to 127.0.0.1:`port`; throws ECONNREFUSED when nothing listens.
func connectLoopback(_ port: Int) throws -> Int32 {
    let fd = socket(AF_INET, socketStream, 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr = IPv4Network.socketAddress("127.0.0.1")!
    let rc = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else {
        close(fd)
        throw POSIXError(.ECONNREFUSED)
    }
    return fd
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
func listening(_ port: Int) -> Bool {
    let fd = socket(AF_INET, socketStream, 0)
    defer { close(fd) }
    var limit = timeval(tv_sec: 0, tv_usec: 300_000)  // a connect that hangs counts as not listening
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr = IPv4Network.socketAddress("127.0.0.1")!
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    return withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}

/// A background server process for a test, killed when dropped.
final class Background: @unchecked Sendable {
    let process: BackgroundProcess

    init(_ argv: [String], port: Int, env: [String: String] = [:]) async throws {
        let environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        process = try BackgroundProcess(Command(argv[0], Array(argv.dropFirst()), environment: environment))
        var up = false
        for _ in 0..<200 {
            if listening(port) {
                up = true
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        guard up else {
            stop()
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "\(argv[0]) did not listen on \(port)"])
        }
    }

    func stop() { process.terminate() }
}

/// `git daemon` serving one directory's repositories on 127.0.0.1.
func gitDaemon(base: String) async throws -> (Background, Int) {
    let port = freePort()
    let daemon = try await Background(
        [
            "/usr/lib/git-core/git-daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1", "--port=\(port)",
            "--base-path=\(base)", base,
        ], port: port)
    return (daemon, port)
}

/// Whether a real Prometheus and node_exporter can run here (Debian's packages).
let canMonitor = have("prometheus") && have("prometheus-node-exporter") && have("curl") && have("git")

/// One node_exporter per host (only its textfile collector, reading the host's directory under
/// `dir`), and Prometheus on a free loopback port scraping them every second — evaluating
/// `rules` (a rule file) every second too, when given.
func startPrometheus(_ dir: String, hosts: [String], rules: String? = nil) async throws -> ([Background], String) {
    var servers: [Background] = []
    var config = "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
    if let rules { config += "rule_files: ['\(rules)']\n" }
    config += "scrape_configs:\n"
    for host in hosts {
        let port = freePort()
        try FileIO.makeDirectories("\(dir)/\(host)")
        servers.append(
            try await Background(
                [
                    "prometheus-node-exporter", "--web.listen-address=127.0.0.1:\(port)", "--collector.disable-defaults",
                    "--collector.textfile", "--collector.textfile.directory=\(dir)/\(host)",
                ], port: port))
        config +=
            "  - job_name: \(host)\n    static_configs:\n      - targets: ['127.0.0.1:\(port)']\n        labels: {instance: \(host)}\n"
    }
    try FileIO.replace("\(dir)/prometheus.yml", text: config)
    let port = freePort()
    servers.append(
        try await Background(
            [
                "prometheus", "--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/tsdb",
                "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
            ], port: port))
    return (servers, "http://127.0.0.1:\(port)")
}
