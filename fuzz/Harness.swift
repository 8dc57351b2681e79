// libFuzzer entry point for jailpilot's parsers of outside input (scripts/fuzz builds it into the
// library's top module, JailPilot, over its two lower layers, all instrumented by
// `swiftc -sanitize=fuzzer,address`).
// JAILPILOT_FUZZ_TARGET picks the parser: toml, dns, http, known_hosts or webhook.
import FoundationEssentials
import Glibc

enum FuzzTarget: String {
    case toml, dns, http, knownHosts = "known_hosts", webhook

    static let current: FuzzTarget = {
        let name = getenv("JAILPILOT_FUZZ_TARGET").map { String(cString: $0) } ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            fputs("JAILPILOT_FUZZ_TARGET must be toml, dns, http, known_hosts or webhook\n", stderr)
            exit(2)
        }
        return target
    }()

    /// A resolver answering from a routes file with one app, as in production.
    static let resolver: RouteResolver = {
        let dir = "/tmp/jailpilot-fuzz-routes-\(getpid())"
        try? FileIO.makeDirectories(dir)
        try? FileIO.replace("\(dir)/routes", text: "hello 172.16.0.2\n")
        return RouteResolver(stateDir: dir)
    }()
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    FuzzInput.run(bytes, target: FuzzTarget.current.rawValue, resolver: FuzzTarget.resolver)
    return 0
}
