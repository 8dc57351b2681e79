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
                .filter { !FileIO.isDirectory($0) && !$0.hasSuffix(".py") }
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
            // POSIX sh unless the script says bash on its first line.
            let firstLine = (try String(contentsOfFile: script, encoding: .utf8)).prefix { $0 != "\n" }
            let shell = firstLine.hasSuffix("bash") ? "bash" : "sh"
            let syntax = try await HostProcessRunner().run(Command(shell, ["-n", script]))
            #expect(syntax.succeeded, "\(shell) -n \(script): \(syntax.stderrText)")
            let lint = try await HostProcessRunner().run(Command("shellcheck", ["-s", shell, script]))
            #expect(lint.succeeded, "shellcheck \(script):\n\(lint.stdoutText)")
        }
    }

    /// Regressions in what the bootstrap writes, read from its text (it runs on FreeBSD only;
    /// FreeBSDHostTests loads its pf files into the stand-in).
    @Test func freebsdBootstrapGuardsLocaltimeAndKeepsTheOperatorsAnchorLines() throws {
        let text = try String(contentsOfFile: "\(Self.root)/scripts/bootstrap-freebsd-host", encoding: .utf8)
        // /etc/localtime exists only where tzsetup ran: an unguarded cp aborted the bootstrap (set -e).
        let copy = try #require(text.split(separator: "\n").first { $0.contains("cp /etc/localtime") })
        #expect(copy.contains("[ -e /etc/localtime ]"), "\(copy)")
        // /etc/pf.jailpilot.conf was rewritten whole when it differed, dropping an operator's lines.
        #expect(text.contains("append_line /etc/pf.jailpilot.conf 'anchor \"jails\"'"))
        #expect(text.components(separatedBy: "> /etc/pf.jailpilot.conf").count == 2, "written whole only when missing")
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

    @Test func thePackageBringsSwiftsRuntimeAndKeepsTheOperatorsFiles() throws {
        let text = try makefile()
        let plist = try String(contentsOfFile: "\(Self.port)/pkg-plist", encoding: .utf8)
        // Regression: the runtime is linked dynamically (SwiftPM ignores --static-swift-stdlib on
        // FreeBSD, swift-package-manager#9779) while swift6 was only a build dependency.
        // By package name: the port moved its toolchain (swift6/bin, then swift6/usr/local/bin).
        #expect(text.contains("RUN_DEPENDS=\tswift6>=6.0:lang/swift6"))
        let flags = text.split(separator: "\n").first { $0.hasPrefix("SWIFT_FLAGS=") } ?? ""
        #expect(!flags.contains("--static-swift-stdlib"), "ignored there: it would only mislead")
        for file in ["etc/jailpilot/agent.conf.sample", "etc/newsyslog.conf.d/jailpilot.conf.sample"] {
            #expect(plist.contains("@sample \(file)\n"), "\(file) is the operator's once installed")
        }
        #expect(text.contains("'s|/usr/local/|${PREFIX}/|g' ${WRKSRC}/rc.d/jailpilot ${WRKSRC}/rc.d/jailpilot_resolver"))
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
