import Foundation
import JailPilot
import Testing

/// Every shell script the project ships passes `sh -n` and `shellcheck -s sh`.
@Suite struct ScriptsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static var scripts: [String] {
        ["scripts", "rc.d"].flatMap { dir in
            ((try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(dir)")) ?? [])
                .filter { !$0.hasSuffix(".conf") }
                .map { "\(root)/\(dir)/\($0)" }
        } + ["\(root)/.ci/run"]
    }

    @Test func thereAreScriptsToCheck() {
        let names = Self.scripts.map { ($0 as NSString).lastPathComponent }
        for expected in [
            "bootstrap-freebsd-host", "bootstrap-linux-host", "quickstart", "test", "lo1", "jailpilot", "jailpilot_resolver",
        ] {
            #expect(names.contains(expected))
        }
    }

    @Test(.enabled(if: have("shellcheck"), "needs shellcheck"))
    func everyScriptPassesShAndShellcheck() async throws {
        for script in Self.scripts {
            let syntax = try await HostProcessRunner().run(Command("sh", ["-n", script]))
            #expect(syntax.succeeded, "sh -n \(script): \(syntax.stderrText)")
            let lint = try await HostProcessRunner().run(Command("shellcheck", ["-s", "sh", script]))
            #expect(lint.succeeded, "shellcheck \(script):\n\(lint.stdoutText)")
        }
    }

    @Test func freebsdBootstrapExplainsEveryOption() async throws {
        let help = try await HostProcessRunner().run(Command("\(Self.root)/scripts/bootstrap-freebsd-host", ["-h"]))
        #expect(help.succeeded)
        for option in ["--dataset", "--mountpoint", "--version", "--address", "--netmask", "--caddy-user", "--dry-run"] {
            #expect(help.stdoutText.contains(option))
        }
    }

    @Test func newsyslogRulesHaveTheRightShape() throws {
        let text = try String(contentsOfFile: "\(Self.root)/rc.d/newsyslog-jailpilot.conf", encoding: .utf8)
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            #expect(fields.count >= 6, "\(line)")
            #expect(fields[0].hasPrefix("/var/log/"))
            if fields.count == 8 { #expect(fields[7].hasPrefix("/var/run/"), "pidfile must be absolute: \(line)") }
        }
    }
}
