import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// cgo (#33): a dynamically linked binary failed to exec in the bare jail with "No such file or
/// directory", which names no library. It is refused at build time naming what it needs; the
/// same service linked statically runs.
@Suite struct CgoTests {
    /// agent.conf lines that build the cgo fixture with cgo on, dynamically or statically linked.
    static func lines(static linkStatic: Bool) -> String {
        let flags = linkStatic ? "\"-ldflags\", \"-linkmode=external -extldflags=-static\", " : ""
        return """
            build = ["go", "build", \(flags)"-o", "{out}", "."]
            build_env = { CGO_ENABLED = "1" }
            """
    }

    @Test func elfLinkageReadsTheInterpreterAndNeededLibrariesOfRealBinaries() throws {
        // Debian's /bin/sh (dash) is dynamically linked against glibc alone.
        let own = try #require(ELFLinkage.read("/bin/sh"))
        #expect(own.isDynamic && own.interpreter?.hasPrefix("/lib") == true)
        #expect(own.needed == ["libc.so.6"], "\(own.needed)")
        #expect(own.missing(in: "/nonexistent", libraryDirs: ["/lib"]).contains("libc.so.6"))
        #expect(
            own.missing(in: "", libraryDirs: ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib"]) == [])
        // Not ELF, truncated, or empty: not judged, never a crash.
        let scratch = try Scratch("elf")
        for (name, bytes) in [
            ("text", Array("#!/bin/sh\n".utf8)), ("empty", []),
            ("truncated", Array(try FileIO.readBytes("/bin/sh", limit: 1 << 24).prefix(100))),
        ] {
            let path = "\(scratch.path)/\(name)"
            try bytes.withUnsafeBytes { try FileIO.create(path, bytes: $0, mode: 0o644) }
            #expect(ELFLinkage.read(path) == nil, "\(name)")
        }
    }

    @Test(.enabled(if: canDeploy && have("gcc"), "needs root, caddy, go, gcc, btrfs-progs and iproute2"))
    func aDynamicCgoBinaryIsRefusedNamingItsLibrariesAndAStaticOneRunsOnLinux() async throws {
        try await E2EWorld.with(appExtra: Self.lines(static: false)) { world in
            let sha = try await world.repo.commit(GoFixture.cgoService, message: "cgo")
            let refused = await #expect(throws: BuildError.self) { try await world.deployer.deploy(world.app) }
            let said = refused.map { "\($0)" } ?? ""
            #expect(said.contains("at \(sha.prefix(12)) made a dynamically linked binary that needs "), "\(said)")
            #expect(said.contains("libc.so.6") && said.contains("-extldflags=-static"), "\(said)")
            #expect(try world.runtime.store.live(app: "hello") == nil, "nothing went live")

            var conf = world.conf
            conf.apps[0].lines = Self.lines(static: true)
            let runtime = try Runtime(config: try conf.parsed(file: "static.conf"), echo: false)
            let live = try await runtime.deployer().deploy(try #require(runtime.config.app("hello"))).release
            #expect(live.sha == sha)
            #expect(await world.fetch() == "cgo says 42")
        }
    }
}

extension GoFixture {
    /// A service with a small C function (cgo), answering `/` with what it returns.
    static let cgoService = [
        "go.mod": "module example.org/cgosvc\n\ngo 1.19\n",
        "main.go": """
        package main

        /*
        static int answer(void) { return 42; }
        */
        import "C"

        import (
        \t"fmt"
        \t"net/http"
        \t"os"
        )

        func main() {
        \thttp.HandleFunc("/up", func(w http.ResponseWriter, r *http.Request) {})
        \thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "cgo says %d", int(C.answer())) })
        \tif err := http.ListenAndServe(os.Getenv("JAIL_IP")+":"+os.Getenv("PORT"), nil); err != nil {
        \t\tfmt.Fprintln(os.Stderr, err)
        \t\tos.Exit(1)
        \t}
        }

        """,
    ]
}
