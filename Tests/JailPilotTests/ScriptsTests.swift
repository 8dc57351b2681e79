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
            "bootstrap-freebsd-host", "bootstrap-linux-host", "quickstart", "test", "jailpilot", "jailpilot_resolver",
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
        for option in ["--dataset", "--mountpoint", "--version", "--address", "--netmask", "--network", "--no-nat", "--dry-run"] {
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

/// The FreeBSD port skeleton (packaging/freebsd/sysutils/jailpilot) stays true to the tree:
/// what it installs exists, pkg-plist lists exactly that, and its Package.swift rewrite still
/// matches (else poudriere, which has no network, would fail to resolve the dependency).
@Suite struct PortSkeletonTests {
    static let port = "\(ScriptsTests.root)/packaging/freebsd/sysutils/jailpilot"

    func makefile() throws -> String { try String(contentsOfFile: "\(Self.port)/Makefile", encoding: .utf8) }

    @Test func everyInstalledFileExistsAndIsInThePlist() throws {
        let text = try makefile()
        let plist = try String(contentsOfFile: "\(Self.port)/pkg-plist", encoding: .utf8)
            .split(separator: "\n").map {
                $0.replacingOccurrences(of: "@sample ", with: "").replacingOccurrences(of: "%%DATADIR%%", with: "${DATADIR}")
            }
        var staged: [String] = []
        for line in text.split(separator: "\n") where line.contains("${WRKSRC}/") && line.contains("${STAGEDIR}") {
            let words = line.split(separator: " ")
            guard let source = words.first(where: { $0.hasPrefix("${WRKSRC}/") }), let target = words.last else { continue }
            let path = String(source.dropFirst("${WRKSRC}/".count))
            if !path.hasPrefix(".build/") {
                #expect(FileManager.default.fileExists(atPath: "\(ScriptsTests.root)/\(path)"), "the port installs \(path)")
            }
            staged.append(
                String(target).replacingOccurrences(of: "${STAGEDIR}${PREFIX}/", with: "").replacingOccurrences(
                    of: "${STAGEDIR}", with: ""))
        }
        #expect(Set(staged) == Set(plist.map { String($0) }), "installed: \(staged.sorted())\nplist: \(plist.sorted())")
    }

    @Test func theDependencyRewriteMatchesPackageSwift() throws {
        let text = try makefile()
        let package = try String(contentsOfFile: "\(ScriptsTests.root)/Package.swift", encoding: .utf8)
        let pattern = try #require(text.split(separator: "\n").first { $0.contains("-e 's|") })
        let from = try #require(pattern.split(separator: "|").dropFirst().first).replacingOccurrences(of: "\\.", with: ".")
        #expect(package.contains(from), "Package.swift no longer has \(from)")
        let version = try #require(from.split(separator: "\"").last(where: { $0.first?.isNumber == true }))
        #expect(text.contains("apple:swift-argument-parser:\(version):"), "GH_TUPLE fetches the version Package.swift asks for")
        #expect(package.components(separatedBy: ".package(").count == 2, "one dependency; the port fetches only that one")
    }
}
