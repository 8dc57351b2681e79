import Foundation
import JailPilot
import Testing

@Suite struct ConfigTests {
    static let good = """
        [agent]
        platform = "linux"
        poll_interval = "5s"
        state_dir = "/var/db/jailpilot"

        [caddy]
        listen = [":8080"]
        automatic_https = false

        [apps.hello]
        repo = "https://example.org/me/hello.git"
        hostnames = ["hello.example.org"]
        keep = 2
        """

    func issues(_ text: String) -> [ConfigIssue] {
        do {
            _ = try ConfigLoader.parse(text, file: "agent.conf")
            return []
        } catch let error as ConfigError {
            return error.issues
        } catch {
            Issue.record("unexpected error \(error)")
            return []
        }
    }

    @Test func validConfigGetsDefaults() throws {
        let config = try ConfigLoader.parse(Self.good, file: "agent.conf")
        let app = try #require(config.app("hello"))
        #expect(app.branch == "main")
        #expect(app.build == ["go", "build", "-o", "{out}", "."])
        #expect(app.port == 8080 && app.health == "/up" && app.keep == 2)
        #expect(config.agent.pollInterval == .seconds(5))
        #expect(config.caddy.automaticHTTPS == false)
        #expect(config.jails.network.description == "172.16.0.0/12")
    }

    @Test func sampleConfigIsValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let config = try ConfigLoader.load(path: root.appendingPathComponent("agent.conf.sample").path)
        #expect(!config.apps.isEmpty)
    }

    @Test func notTOMLNamesTheLine() {
        let found = issues("[agent]\npoll_interval = \"5s\"\nthis is not toml\n")
        #expect(found.count == 1)
        #expect(found.first?.line == 3)
        #expect(found.first?.description.hasPrefix("agent.conf:3:") == true)
    }

    @Test func wrongTypesAreReportedWithExamples() {
        let text = Self.good.replacingOccurrences(of: "keep = 2", with: "keep = \"two\"\nport = \"8080\"")
        let found = issues(text)
        #expect(found.map(\.key).sorted() == ["apps.hello.keep", "apps.hello.port"])
        #expect(found.allSatisfy { $0.message.contains("whole number") && $0.line != nil })
    }

    @Test func everyProblemIsReportedAtOnceWithItsLine() {
        let text = """
            [agent]
            poll_interval = "soon"
            platfrom = "linux"

            [apps.Bad-Name]
            repo = "https://x/y.git"

            [apps.web]
            repo = "ftp://example.org/web.git"
            branch = "feature..x"
            pin = "xyz123"
            hostnames = ["Web.Example.org", "ok.example.org"]
            keep = 0
            build = ["go", "build"]

            [apps.api]
            hostnames = ["ok.example.org"]
            """
        let found = issues(text)
        func issue(_ key: String) -> ConfigIssue? { found.first { $0.key == key } }
        #expect(issue("agent.poll_interval")?.line == 2)
        #expect(issue("agent.platfrom")?.message.contains("did you mean 'platform'") == true)
        #expect(issue("apps.Bad-Name")?.line == 5)
        #expect(issue("apps.web.repo")?.message.contains("scheme 'ftp'") == true)
        #expect(issue("apps.web.branch")?.line == 10)
        #expect(issue("apps.web.pin")?.message.contains("hex") == true)
        #expect(issue("apps.web.hostnames")?.message.contains("lowercase") == true)
        #expect(issue("apps.web.keep")?.message.contains("at least 1") == true)
        #expect(issue("apps.web.build")?.message.contains("{out}") == true)
        #expect(issue("apps.api.repo")?.message.contains("missing") == true)
        #expect(found.allSatisfy { $0.line != nil })
    }

    @Test func duplicateHostnamesAcrossAppsAreRefused() {
        let text =
            Self.good + """

                [apps.other]
                repo = "https://example.org/me/other.git"
                hostnames = ["hello.example.org"]
                """
        let found = issues(text)
        #expect(found.count == 1)
        #expect(found.first?.key == "apps.other.hostnames")
        #expect(found.first?.message.contains("already served by app 'hello'") == true)
    }

    @Test func missingFileSaysHowToPointAtOne() {
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.load(path: "/nonexistent/agent.conf") }
        #expect(error?.description.contains("/nonexistent/agent.conf: cannot read") == true)
        #expect(error?.description.contains("-c PATH") == true)
    }

    @Test func noAppsIsAnError() {
        #expect(issues("[agent]\nplatform = \"linux\"\n").first?.message.contains("no apps configured") == true)
    }

    @Test func durationsParseAndFormat() {
        #expect(DurationText.parse("1m30s") == .seconds(90))
        #expect(DurationText.parse("250ms") == .milliseconds(250))
        #expect(DurationText.parse("30") == nil)
        #expect(DurationText.parse("5x") == nil)
        #expect(DurationText.format(.seconds(90)) == "1m30s")
    }

    /// Values that once passed `check` and then trapped `check`, `plan` or the agent.
    @Test(arguments: [
        ("[caddy]\nrefresh = \"10000000000s\"", "caddy.refresh"),
        ("[jails]\ndrain = \"9223372036854775807s\"", "jails.drain"),
        ("[apps.hello]\nprobation = \"2562047788015216h\"", "apps.hello.probation"),
        ("[apps.hello]\nhealth_deadline = \"99999999999999999999999ms\"", "apps.hello.health_deadline"),
        ("[agent]\nbuild_timeout = \"25h\"", "agent.build_timeout"),
        ("[caddy]\nrefresh = \"11s\"", "caddy.refresh"),
        ("[agent]\nmax_parallel_builds = 9223372036854775807", "agent.max_parallel_builds"),
    ])
    func numericSettingsOutsideTheirRangeAreRefusedWithTheLine(setting: String, key: String) {
        let (table, line) = (setting.split(separator: "\n")[0], setting.split(separator: "\n")[1])
        let text =
            Self.good.replacingOccurrences(of: "\(table)\n", with: "\(table)\n\(line)\n")
            + (Self.good.contains(table) ? "" : "\n\(setting)\n")
        let found = issues(text)
        let issue = found.first { $0.key == key }
        #expect(issue != nil, "no issue for \(key): \(found)")
        #expect(issue?.line != nil)
        #expect(issue?.message.contains("out of range") == true || issue?.message.contains("between") == true)
    }

    @Test func durationsNeverTrap() {
        #expect(DurationText.parse("9223372036854775807s") == nil)
        #expect(DurationText.parse("2562047788015216h") == nil)
        #expect(DurationText.parse("1000000000s") == .seconds(1_000_000_000))
        #expect(DurationText.format(.seconds(Int64.max)) == "\(Int64.max)s")
        #expect(DurationText.format(.seconds(-1)) == "-1s")
        #expect(DurationText.format(.seconds(3600 * 24)) == "24h")
    }

    @Test func networkParsing() throws {
        let net = try #require(IPv4Network("172.16.0.0/12"))
        #expect(net.host(1) == "172.16.0.1")
        #expect(net.host(2) == "172.16.0.2")
        #expect(net.netmask == "255.240.0.0")
        #expect(net.index(of: "172.16.1.0") == 256)
        #expect(IPv4Network("172.16.0.1/12") == nil)
        #expect(IPv4Network("300.1.1.1/8") == nil)
    }
}

@Suite struct BuildSettingsConfigTests {
    func issues(_ extra: String, agent: String = "", platform: String = "linux") -> [String] {
        let text =
            ConfigTests.good.replacingOccurrences(of: "platform = \"linux\"", with: "platform = \"\(platform)\"\n\(agent)")
            + "\n\(extra)\n"
        do {
            _ = try ConfigLoader.parse(text, file: "agent.conf")
            return []
        } catch let error as ConfigError {
            return error.issues.map { "\($0)" }
        } catch { return ["\(error)"] }
    }

    /// `data` must be a plain directory of the app's own; `release` an argv with an absolute program.
    @Test func dataAndTheReleaseStepAreChecked() throws {
        #expect(
            issues("data = \"/var/db/hello\"\nrelease = [\"/usr/local/bin/hello\", \"migrate\"]\nrelease_timeout = \"2m\"")
                .isEmpty)
        for bad in [
            "var/db/hello", "/", "/etc", "/var/db/../etc", "/var/db/a b", "/var/db/x;y", "/var/log/hello", "/dev/x", "/var/db/x/",
        ] {
            #expect(issues("data = \"\(bad)\"").contains { $0.contains("apps.hello.data") }, "\(bad)")
        }
        #expect(issues("release = [\"migrate\"]").contains { $0.contains("absolute path") })
        #expect(issues("release = []").contains { $0.contains("delete the line") })
        #expect(issues("release_timeout = \"0s\"").contains { $0.contains("release_timeout") })
        let config = try ConfigLoader.parse(
            ConfigTests.good + "\ndata = \"/var/db/hello\"\nrelease = [\"/usr/local/bin/hello\", \"migrate\"]\n",
            file: "agent.conf")
        let app = try #require(config.app("hello"))
        #expect(app.data == "/var/db/hello" && app.release == ["/usr/local/bin/hello", "migrate"])
        #expect(app.releaseTimeout == .seconds(300))
        #expect(SnapshotName.isValid(SnapshotName.make(sha: String(repeating: "a", count: 40))))
        #expect(!SnapshotName.isValid("aaaaaaaaaaaa-x; rm"))
    }

    @Test func buildLimitsAreCheckedWithTheirRanges() throws {
        #expect(issues("max_tree_size = \"64MiB\"\nbuild_network = false").isEmpty)
        #expect(issues("max_tree_size = \"lots\"").contains { $0.contains("is not a size") && $0.contains("256MiB") })
        #expect(issues("max_tree_size = \"100GiB\"").contains { $0.contains("out of range") && $0.contains("64GiB") })
        #expect(issues("build_network = \"no\"").contains { $0.contains("build_network") })
        #expect(issues("", agent: "build_user = \"root\"").contains { $0.contains("unprivileged account") })
        #expect(issues("", agent: "build_user = \"a;b\"").contains { $0.contains("unprivileged account") })
        #expect(issues("", agent: "build_sandbox = true", platform: "freebsd").isEmpty, "FreeBSD builds run in a build jail")
        #expect(issues("", agent: "build_template = \"../x\"", platform: "freebsd").contains { $0.contains("build_template") })
        let freebsd = try ConfigLoader.parse(
            ConfigTests.good.replacingOccurrences(of: "platform = \"linux\"", with: "platform = \"freebsd\""), file: "agent.conf")
        #expect(freebsd.agent.buildSandbox && freebsd.agent.buildTemplate == "build", "confined by default on FreeBSD too")
        let config = try ConfigLoader.parse(ConfigTests.good, file: "agent.conf")
        #expect(config.agent.buildSandbox && config.agent.buildUser == "jailpilot-build")
        #expect(config.apps[0].maxTreeSize == 256 << 20 && config.apps[0].buildNetwork)
    }

    @Test func sizesParseInBinaryUnitsAndRefuseOverflow() {
        #expect(ByteCount.parse("256MiB") == 256 << 20)
        #expect(ByteCount.parse("1k") == 1024 && ByteCount.parse("2GB") == 2 << 30 && ByteCount.parse("12") == 12)
        #expect(ByteCount.parse("") == nil && ByteCount.parse("-1MiB") == nil && ByteCount.parse("1.5GiB") == nil)
        #expect(ByteCount.parse("99999999999999999TiB") == nil, "overflow is refused, not wrapped")
        #expect(ByteCount.format(256 << 20) == "256MiB" && ByteCount.format(1500) == "1500B")
        #expect(JailLimits(memory: 64 << 20, millicores: 250, disk: 1 << 30).summary == "memory 64MiB, cpu 0.25, disk 1GiB")
        #expect(JailLimits(millicores: 1500).summary.contains("cpu 1.5,") && JailLimits().summary.contains("cpu 2,"))
    }
}
