import Foundation
import JailPilot

/// A real git repository made by a test, with helpers to commit and serve it.
final class GitFixture: @unchecked Sendable {
    let scratch: Scratch
    let work: String
    static let env = [
        "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "GIT_CONFIG_NOSYSTEM": "1", "HOME": Scratch.root,
    ]

    /// A repository with branch `main` and no commits.
    init(branch: String = "main") async throws {
        scratch = try Scratch("git")
        work = "\(scratch.path)/repo"
        try await git(["init", "-q", "-b", branch, work], in: nil)
    }

    var fileURL: String { "file://\(work)" }

    @discardableResult
    func git(_ args: [String], in dir: String? = "") async throws -> String {
        try await sh(["git"] + args, in: dir == "" ? work : dir, env: Self.env)
    }

    /// Writes files, commits them all, returns the new commit's SHA.
    @discardableResult
    func commit(_ files: [String: String], message: String = "change") async throws -> String {
        for (name, text) in files { try scratch.write("repo/\(name)", text) }
        try await git(["add", "-A"])
        try await git(["commit", "-q", "-m", message])
        return try await head()
    }

    func head() async throws -> String {
        try await git(["rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Commits the seed article's hello-world app, saying `greeting` on `/`.
    @discardableResult
    func commitHello(
        _ greeting: String = "Hello World!", upStatus: Int = 200, failAfterMs: Int? = nil, failAfterAnswers: Int? = nil
    ) async throws -> String {
        try await commit(
            [
                "main.go": GoFixture.hello(
                    greeting, upStatus: upStatus, failAfterMs: failAfterMs, failAfterAnswers: failAfterAnswers),
                "go.mod": "module hello\n\ngo 1.19\n",
            ],
            message: greeting)
    }
}

extension GitFixture {
    /// Commits an app that reports what its jail gives it: `/probe` (hostname, /dev), `/fill`
    /// (writes until the disk says no), `/hog?mb=N` (touches N MiB of memory), `/dial?addr=A:P`.
    @discardableResult
    func commitProber(_ greeting: String = "prober", failAfterMs: Int? = nil) async throws -> String {
        try await commit(
            ["main.go": GoFixture.prober(greeting, failAfterMs: failAfterMs), "go.mod": "module hello\n\ngo 1.19\n"],
            message: greeting)
    }
}

/// Go sources for fixture apps.
enum GoFixture {
    /// An app that reports on its jail. As a release step (`hello migrate|fail|sleep`) it appends
    /// a line to `$JAILPILOT_DATA/migrations`, fails after writing half, or never ends.
    static func prober(_ greeting: String, failAfterMs: Int? = nil) -> String {
        let up = failAfterMs.map { "if time.Since(started) > \($0)*time.Millisecond { w.WriteHeader(500); return }" } ?? ""
        return """
            package main

            import (
            \t"fmt"
            \t"net"
            \t"net/http"
            \t"os"
            \t"strconv"
            \t"time"
            )

            var started = time.Now()

            func step(name string) {
            \tdata := os.Getenv("JAILPILOT_DATA")
            \tswitch name {
            \tcase "migrate":
            \t\tf, err := os.OpenFile(data+"/migrations", os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0600)
            \t\tif err != nil { fmt.Println("migrate:", err); os.Exit(2) }
            \t\tfmt.Fprintf(f, "%s uid=%d level=%s\\n", os.Getenv("JAILPILOT_SHA")[:12], os.Getuid(), os.Getenv("LOG_LEVEL"))
            \t\tf.Close()
            \t\tfmt.Println("migrated to", os.Getenv("JAILPILOT_SHA"))
            \tcase "fail":
            \t\tos.WriteFile(data+"/half-migrated", []byte("x"), 0600)
            \t\tfmt.Println("migration failed: boom")
            \t\tos.Exit(3)
            \tcase "sleep":
            \t\tfmt.Println("sleeping")
            \t\ttime.Sleep(time.Hour)
            \t}
            }

            func main() {
            \tif len(os.Args) > 1 { step(os.Args[1]); return }
            \thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "\(greeting)") })
            \thttp.HandleFunc("/up", func(w http.ResponseWriter, r *http.Request) { \(up) })
            \thttp.HandleFunc("/data", func(w http.ResponseWriter, r *http.Request) {
            \t\tb, err := os.ReadFile(os.Getenv("JAILPILOT_DATA") + "/" + r.URL.Query().Get("file"))
            \t\tif err != nil { fmt.Fprintf(w, "missing"); return }
            \t\tw.Write(b)
            \t})
            \thttp.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
            \t\terr := os.WriteFile(os.Getenv("JAILPILOT_DATA")+"/"+r.URL.Query().Get("file"), []byte(r.URL.Query().Get("text")), 0600)
            \t\tif err != nil { fmt.Fprintf(w, "failed: %v", err); return }
            \t\tfmt.Fprint(w, "stored")
            \t})
            \thttp.HandleFunc("/probe", func(w http.ResponseWriter, r *http.Request) {
            \t\thost, _ := os.Hostname()
            \t\tnull, urandom := "ok", "ok"
            \t\tif f, err := os.OpenFile("/dev/null", os.O_WRONLY, 0); err != nil { null = err.Error() } else { _, err = f.Write([]byte("x")); if err != nil { null = err.Error() }; f.Close() }
            \t\tif f, err := os.Open("/dev/urandom"); err != nil { urandom = err.Error() } else { b := make([]byte, 16); if _, err := f.Read(b); err != nil { urandom = err.Error() }; f.Close() }
            \t\tfmt.Fprintf(w, "host=%s null=%s urandom=%s", host, null, urandom)
            \t})
            \thttp.HandleFunc("/fill", func(w http.ResponseWriter, r *http.Request) {
            \t\tf, err := os.Create("/tmp/fill")
            \t\tif err != nil { fmt.Fprintf(w, "wrote 0: %v", err); return }
            \t\tdefer f.Close()
            \t\tchunk := make([]byte, 1<<20)
            \t\ttotal := 0
            \t\tfor total < 1<<30 {
            \t\t\tn, err := f.Write(chunk)
            \t\t\ttotal += n
            \t\t\tif err == nil { err = f.Sync() }
            \t\t\tif err != nil { fmt.Fprintf(w, "wrote %d: %v", total, err); return }
            \t\t}
            \t\tfmt.Fprintf(w, "wrote %d: no limit", total)
            \t})
            \thttp.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
            \t\tfor _, name := range r.URL.Query()["name"] { fmt.Fprintf(w, "%s=%s\\n", name, os.Getenv(name)) }
            \t})
            \thttp.HandleFunc("/dial", func(w http.ResponseWriter, r *http.Request) {
            \t\tc, err := net.DialTimeout("tcp", r.URL.Query().Get("addr"), 2*time.Second)
            \t\tif err != nil { fmt.Fprintf(w, "refused: %v", err); return }
            \t\tc.Close()
            \t\tfmt.Fprint(w, "connected")
            \t})
            \thttp.HandleFunc("/hog", func(w http.ResponseWriter, r *http.Request) {
            \t\tmb, _ := strconv.Atoi(r.URL.Query().Get("mb"))
            \t\tblocks := make([][]byte, 0, mb)
            \t\tfor i := 0; i < mb; i++ { b := make([]byte, 1<<20); for j := range b { b[j] = 1 }; blocks = append(blocks, b) }
            \t\tfmt.Fprintf(w, "held %d MiB", len(blocks))
            \t})
            \tport := os.Getenv("PORT")
            \tif port == "" { port = "8080" }
            \thttp.ListenAndServe(os.Getenv("JAIL_IP")+":"+port, nil)
            }

            """
    }

    /// The seed's hello world with `/up`, listening on `:$PORT` (default 8080). With
    /// `failAfterMs`, `/up` answers 500 once the app has run that long; with `failAfterAnswers`,
    /// once it has answered that many times.
    static func hello(_ greeting: String, upStatus: Int = 200, failAfterMs: Int? = nil, failAfterAnswers: Int? = nil)
        -> String
    {
        let afterTime = failAfterMs.map { "if time.Since(started) > \($0)*time.Millisecond { w.WriteHeader(500); return }; " }
        let afterAnswers = failAfterAnswers.map { "if atomic.AddInt64(&answered, 1) > \($0) { w.WriteHeader(500); return }; " }
        let up = (afterTime ?? "") + (afterAnswers ?? "")
        return """
            package main

            import (
            \t"fmt"
            \t"log"
            \t"net/http"
            \t"os"
            \(failAfterAnswers == nil ? "" : "\t\"sync/atomic\"\n")\t"time"
            )
            \(failAfterAnswers == nil ? "" : "\nvar answered int64 // answers of /up so far\n")
            var started = time.Now()

            func main() {
            \thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
            \t\tfmt.Fprintf(w, "\(greeting)")
            \t})
            \thttp.HandleFunc("/up", func(w http.ResponseWriter, r *http.Request) {
            \t\t\(up)w.WriteHeader(\(upStatus))
            \t})
            \t// An event stream: one line every 200 ms until the client goes away.
            \thttp.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
            \t\tw.Header().Set("Content-Type", "text/event-stream")
            \t\tfor i := 0; ; i++ {
            \t\t\tfmt.Fprintf(w, "data: \(greeting) %d\\n\\n", i)
            \t\t\tw.(http.Flusher).Flush()
            \t\t\tselect {
            \t\t\tcase <-r.Context().Done():
            \t\t\t\treturn
            \t\t\tcase <-time.After(200 * time.Millisecond):
            \t\t\t}
            \t\t}
            \t})
            \tport := os.Getenv("PORT")
            \tif port == "" {
            \t\tport = "8080"
            \t}
            \t// JAIL_IP: the FreeBSD stand-in's jail address (a wildcard bind in a jail takes it).
            \tlog.Fatal(http.ListenAndServe(os.Getenv("JAIL_IP")+":"+port, nil))
            }

            """
    }
}

extension GitFixture {
    /// A repository whose first commit, "good", is on main and stable, cloned bare to
    /// `scratch/remote.git` (the forge of the ring tests): (the work tree, good, the remote's path).
    static func ringForge(in scratch: Scratch) async throws -> (repo: GitFixture, good: String, remote: String) {
        let repo = try await GitFixture()
        let good = try await repo.commitHello("good")
        try await repo.git(["branch", "stable", good])
        let remote = "\(scratch.path)/remote.git"
        try await repo.git(["clone", "-q", "--bare", repo.work, remote], in: nil)
        return (repo, good, remote)
    }
}

extension GitFixture {
    /// Commits a service shaped like real Go CLIs: started bare it prints its usage and exits 2;
    /// `serve [flags…]` serves, answering `/` with its arguments after `serve`, one per line;
    /// with `--config-file=PATH` it reads that file at start (exit 1 if it cannot) and answers
    /// `/config` with it.
    @discardableResult
    func commitServeCLI() async throws -> String {
        try await commit(["main.go": GoFixture.serveCLI, "go.mod": "module servecli\n\ngo 1.19\n"], message: "serve cli")
    }
}

extension GoFixture {
    /// The `serve` service of `commitServeCLI`.
    static let serveCLI = """
        package main

        import (
        \t"fmt"
        \t"net/http"
        \t"os"
        \t"strings"
        )

        func main() {
        \tif len(os.Args) < 2 || os.Args[1] != "serve" {
        \t\tfmt.Fprintln(os.Stderr, "Please specify one command of: serve, version")
        \t\tos.Exit(2)
        \t}
        \trest := os.Args[2:]
        \t// --config-file=PATH: read once at start, as real services read theirs; /config answers it.
        \tvar config []byte
        \tfor _, arg := range rest {
        \t\tif strings.HasPrefix(arg, "--config-file=") {
        \t\t\tvar err error
        \t\t\tif config, err = os.ReadFile(strings.TrimPrefix(arg, "--config-file=")); err != nil {
        \t\t\t\tfmt.Fprintln(os.Stderr, "cannot read the config:", err)
        \t\t\t\tos.Exit(1)
        \t\t\t}
        \t\t}
        \t}
        \thttp.HandleFunc("/config", func(w http.ResponseWriter, r *http.Request) { w.Write(config) })
        \thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
        \t\tfmt.Fprint(w, strings.Join(rest, "\\n"))
        \t})
        \thttp.HandleFunc("/up", func(w http.ResponseWriter, r *http.Request) {})
        \tport := os.Getenv("PORT")
        \tif port == "" {
        \t\tport = "8080"
        \t}
        \tif err := http.ListenAndServe(os.Getenv("JAIL_IP")+":"+port, nil); err != nil {
        \t\tfmt.Fprintln(os.Stderr, err)
        \t\tos.Exit(1)
        \t}
        }

        """
}
