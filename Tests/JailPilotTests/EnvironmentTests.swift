import Foundation
import JailPilot
import JailPilotTesting
import Testing

/// An app's variables and secrets: read from agent.conf and root-only files, given to the app
/// through its environment, and seen by nothing else (log, store, status, plan, ps).
@Suite struct EnvironmentTests {
    /// A secrets file, root's and 0600 unless told otherwise.
    static func secretsFile(_ scratch: Scratch, _ text: String, mode: mode_t = 0o600) throws -> String {
        let path = try scratch.write("hello.env", text)
        chmod(path, mode)
        return path
    }

    func app(_ extra: String, state: String) throws -> AppConfig {
        try #require(
            try TestAgentConf.hello(stateDir: state, repo: "https://example.org/x.git", lines: extra).config().app("hello"))
    }

    @Test(.enabled(if: isRoot, "the file must be root's"))
    func aSecretsFileIsReadWithCommentsExportAndQuotes() throws {
        let scratch = try Scratch("env")
        let file = try Self.secretsFile(
            scratch, "# database\nexport DATABASE_URL='postgres://u:p@db/x'\n\nAPI_KEY=\"k=1 2\"\r\nPLAIN=a'b\nLOG_LEVEL=debug\n")
        let app = try app("env = { LOG_LEVEL = \"info\", REGION = \"eu\" }\nenv_files = [\"\(file)\"]", state: scratch.path)
        let env = try AppEnvironment.resolve(app, layout: StateLayout(root: scratch.path))
        let values = Dictionary(uniqueKeysWithValues: env.values.map { ($0.name, $0.value) })
        #expect(values["DATABASE_URL"] == "postgres://u:p@db/x")
        #expect(values["API_KEY"] == "k=1 2")
        #expect(values["PLAIN"] == "a'b")
        #expect(values["LOG_LEVEL"] == "debug", "a file's value wins over agent.conf's")
        #expect(values["REGION"] == "eu")
        #expect(env.names == env.names.sorted())
        #expect(env.digest.count == 8)
        // The file a start script sources: every value single-quoted, nothing expanded.
        #expect(env.shellFile.contains("PLAIN='a'\\''b'\n"))
    }

    @Test(.enabled(if: isRoot, "the file must be root's"))
    func aSecretsFileOthersCanReadIsRefusedAndTheErrorNeverShowsAValue() throws {
        let scratch = try Scratch("env")
        let file = try Self.secretsFile(scratch, "API_KEY=hunter2-secret\n", mode: 0o644)
        let app = try app("env_files = [\"\(file)\"]", state: scratch.path)
        let error = #expect(throws: EnvFileError.self) {
            try AppEnvironment.resolve(app, layout: StateLayout(root: scratch.path))
        }
        #expect(error?.description.contains("chmod 600") == true, "\(String(describing: error))")
        chmod(file, 0o600)
        try FileIO.replace(file, text: "API_KEY=hunter2-secret\nnot a pair hunter2-secret\n", mode: 0o600)
        let bad = #expect(throws: EnvFileError.self) { try AppEnvironment.resolve(app, layout: StateLayout(root: scratch.path)) }
        #expect(bad?.description.contains("\(file):2") == true, "\(String(describing: bad))")
        #expect(bad?.description.contains("hunter2") == false, "an error must not carry the secret")
        let link = "\(scratch.path)/link.env"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: file)
        #expect(throws: EnvFileError.self) {
            try AppEnvironment.resolve(
                try self.app("env_files = [\"\(link)\"]", state: scratch.path), layout: StateLayout(root: scratch.path))
        }
    }

    @Test func theDigestChangesWithAValueAndIsKeyedPerStateDir() throws {
        let one = try Scratch("env")
        let two = try Scratch("env")
        let layout = StateLayout(root: one.path)
        let a = try AppEnvironment.resolve(try app("env = { A = \"1\" }", state: one.path), layout: layout)
        let again = try AppEnvironment.resolve(try app("env = { A = \"1\" }", state: one.path), layout: layout)
        let changed = try AppEnvironment.resolve(try app("env = { A = \"2\" }", state: one.path), layout: layout)
        let elsewhere = try AppEnvironment.resolve(
            try app("env = { A = \"1\" }", state: one.path), layout: StateLayout(root: two.path))
        #expect(a.digest == again.digest)
        #expect(a.digest != changed.digest, "a changed value is a new release")
        #expect(a.digest != elsewhere.digest, "the digest is an HMAC under the state_dir's own key")
        #expect(try AppEnvironment.resolve(try app("", state: one.path), layout: layout).digest == "", "no variables: no suffix")
        let key = try FileManager.default.attributesOfItem(atPath: "\(one.path)/env.key")
        #expect((key[.posixPermissions] as? Int) == 0o600)
    }

    @Test func namesAreCheckedAndJailpilotsOwnAreReserved() {
        #expect(Names.envNameProblem("DATABASE_URL") == nil)
        for bad in ["PORT", "JAILPILOT_SHA", "1X", "A-B", "", "A B", "É"] { #expect(Names.envNameProblem(bad) != nil, "\(bad)") }
        #expect(throws: (any Error).self) {
            try TestAgentConf.hello(stateDir: "/tmp/x", repo: "https://e.org/x.git", lines: "env = { PORT = \"1\" }").config()
        }
        #expect(throws: (any Error).self) {
            try TestAgentConf.hello(stateDir: "/tmp/x", repo: "https://e.org/x.git", lines: "env_files = [\"rel.env\"]").config()
        }
    }

    @Test func aReleaseWithAnEnvironmentIsNamedWithItsDigest() {
        let sha = "3f2c1e0a9b7d8e9f00112233445566778899aabb"
        #expect(ReleaseName(app: "hello", sha: sha, env: "a1b2c3d4").text == "hello_3f2c1e0a9b7d_a1b2c3d4")
        #expect(ReleaseName(parsing: "hello_3f2c1e0a9b7d_a1b2c3d4") != nil)
        #expect(ReleaseName(parsing: "hello_3f2c1e0a9b7d") != nil)
        #expect(ReleaseName(parsing: "my_app_3f2c1e0a9b7d_a1b2c3d4") != nil)
        #expect(ReleaseName(parsing: "hello_3f2c1e0a9b7d_a1b2") == nil)
        // Read from the end, as they are printed: the app keeps its own underscores.
        let parsed = ReleaseName(parsing: "my_app_3f2c1e0a9b7d_a1b2c3d4")
        #expect(parsed == ReleaseName(app: "my_app", sha: sha, env: "a1b2c3d4"), "\(String(describing: parsed))")
        #expect(ReleaseName(parsing: "x_0123456789ab_3f2c1e0a9b7d") == ReleaseName(app: "x_0123456789ab", sha: sha))
        #expect(ReleaseName(parsing: "hello_3f2c1e0a9b7d_a1b2c3d4")?.text == "hello_3f2c1e0a9b7d_a1b2c3d4")
        #expect(ReleaseName(parsing: "_3f2c1e0a9b7d") == nil && ReleaseName(parsing: "3f2c1e0a9b7d_a1b2c3d4") == nil)
    }
}

/// The variables and secrets reach the app, end to end, and nothing else: not the agent log, the
/// state database, `status --json`, `plan`, or any process's arguments (root, the Linux driver).
@Suite(.serialized, .enabled(if: canDeploy, "needs root, caddy, go, btrfs-progs and iproute2"))
struct EnvironmentDeployTests {
    /// Every place a value must never be: the files of the state_dir (log, state.db and its WAL,
    /// supervisor scripts), status (text and JSON), plan, and every process's arguments.
    func expectNowhere(_ secret: String, _ world: E2EWorld, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        var places: [String: String] = [:]
        for file in (FileManager.default.subpaths(atPath: world.state.path) ?? []) where !file.hasPrefix("mirrors/") {
            let path = "\(world.state.path)/\(file)"
            guard !FileIO.isDirectory(path), !file.hasSuffix("hello.env") else { continue }
            places[file] = String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        }
        for script in (try? FileManager.default.contentsOfDirectory(atPath: "\(E2EHost.mountpoint)/run")) ?? [] {
            places["run/\(script)"] = try? String(contentsOfFile: "\(E2EHost.mountpoint)/run/\(script)", encoding: .utf8)
        }
        let status = try await AppStatus.collect(world.app, store: world.runtime.store)
        places["status"] = status.text
        places["status --json"] = String(decoding: try JSONEncoder().encode(status), as: UTF8.self)
        let plan = try await HostProcessRunner().run(
            Command(CLITests.binary, ["plan", "-c", world.configPath, "hello"]), timeout: .seconds(60))
        places["plan"] = plan.stdoutText + plan.stderrText
        // The live commit's plan runs nothing (the script is `unchanged`); any other shows names only.
        #expect(
            plan.stdoutText.contains("(values not shown)") || plan.stdoutText.contains("is live already: nothing to do"),
            "\(plan.stdoutText)\(plan.stderrText)", sourceLocation: sourceLocation)
        places["ps"] = try await HostProcessRunner().run(Command("ps", ["-eww", "-o", "args"])).stdoutText
        for (place, text) in places {
            #expect(!text.contains(secret), "the secret is in \(place)", sourceLocation: sourceLocation)
        }
    }

    @Test func theAppGetsItsVariablesAndSecretsAndNothingElseSeesThem() async throws {
        let scratch = try Scratch("secrets")
        let secret = "s3cret-" + UUID().uuidString
        let file = try EnvironmentTests.secretsFile(scratch, "API_KEY=\(secret)\n")
        try await E2EWorld.with(appExtra: "env = { LOG_LEVEL = \"debug\" }\nenv_files = [\"\(file)\"]") { world in
            let sha = try await world.repo.commitProber()
            let first = try await world.deployer.deploy(world.app, cause: "push").release
            #expect(first.name.hasPrefix("hello_\(sha.prefix(12))_") && first.env.count == 8)
            let seen = await world.getFromLive("/env?name=LOG_LEVEL&name=API_KEY&name=JAILPILOT_SHA&name=PORT")
            #expect(seen == "LOG_LEVEL=debug\nAPI_KEY=\(secret)\nJAILPILOT_SHA=\(sha)\nPORT=8080\n", "\(seen)")
            try await expectNowhere(secret, world)

            // A secrets file others can read: refused, with what to do, and the live release untouched.
            chmod(file, 0o644)
            let refused = await Result { try await world.deployer.deploy(world.app) }
            #expect(throws: EnvFileError.self) { try refused.get() }
            #expect(try world.runtime.store.live(app: "hello")?.id == first.id)
            chmod(file, 0o600)

            // A changed secret is a new release of the same commit, through the same gate.
            let rotated = "r0tated-" + UUID().uuidString
            try FileIO.replace(file, text: "API_KEY=\(rotated)\n", mode: 0o600)
            let second = try await world.deployer.deploy(world.app, cause: "push").release
            #expect(second.sha == sha && second.name != first.name)
            #expect(second.cause == "config changed")
            #expect(await world.getFromLive("/env?name=API_KEY") == "API_KEY=\(rotated)\n")
            let kept = try world.runtime.store.releases(app: "hello").first { $0.id == first.id }
            #expect(kept.map { [.standby, .retired].contains($0.state) } == true, "the old environment is kept for rollback")
            let status = try await AppStatus.collect(world.app, store: world.runtime.store)
            #expect(status.text.contains("because   config changed"), "\(status.text)")
            #expect(status.text.contains("env       \(second.env): API_KEY LOG_LEVEL (values not shown)"), "\(status.text)")
            try await expectNowhere(rotated, world)
        }
    }

    @Test func theAgentDeploysTheSameCommitAgainWhenASecretChanges() async throws {
        let scratch = try Scratch("secrets")
        let file = try EnvironmentTests.secretsFile(scratch, "API_KEY=one\n")
        try await E2EWorld.with(appExtra: "env_files = [\"\(file)\"]") { world in
            _ = try await world.repo.commitHello("same commit")
            let agent = try Agent(configPath: world.configPath)
            let running = Task { await agent.run() }
            let store = world.runtime.store
            let first = await eventually(.seconds(60)) { (try? store.live(app: "hello")) != nil }
            let before = try store.live(app: "hello")
            try FileIO.replace(file, text: "API_KEY=two\n", mode: 0o600)
            let redeployed = await eventually(.seconds(60)) {
                guard let live = try? store.live(app: "hello") else { return false }
                return live.env != before?.env && live.cause == "config changed"
            }
            await agent.stop()
            await running.value
            #expect(first && redeployed)
            let live = try store.live(app: "hello")
            #expect(live?.sha == before?.sha, "the same commit, with the new secret")
            #expect(before?.cause == "push")
        }
    }
}

/// The FreeBSD driver: the rc script sources the root-only file inside the jail before daemon(8)
/// drops to nobody, on the FreeBSD stand-in; the plan shows the file and the names only.
@Suite(.serialized, .enabled(if: canStandIn, "needs root, python3, go, setpriv and bwrap"))
struct FreeBSDEnvironmentTests {
    @Test func theRcScriptGivesTheAppItsSecretsAndThePlanShowsOnlyNames() async throws {
        let scratch = try Scratch("secrets")
        let secret = "s3cret-" + UUID().uuidString
        let file = try EnvironmentTests.secretsFile(scratch, "API_KEY='\(secret)'\n")
        try await FreeBSDWorld.with(appExtra: "env = { LOG_LEVEL = \"debug\" }\nenv_files = [\"\(file)\"]") { world in
            let sha = try await world.repo.commitProber()
            let release = try await world.deployer.deploy(world.app).release
            let response = try await HTTPClient(timeout: .seconds(5)).send(
                "GET", "/env?name=API_KEY&name=LOG_LEVEL&name=JAILPILOT_APP&name=JAILPILOT_SHA",
                to: .tcp(host: try #require(release.address), port: world.port), host: "hello.localhost")
            #expect(response.text == "API_KEY=\(secret)\nLOG_LEVEL=debug\nJAILPILOT_APP=hello\nJAILPILOT_SHA=\(sha)\n")
            let envFile = "\(world.standIn.mountpoint)/containers/\(release.name)/usr/local/etc/jailpilot/hello.env"
            let info = try FileManager.default.attributesOfItem(atPath: envFile)
            #expect((info[.posixPermissions] as? Int) == 0o600 && (info[.ownerAccountID] as? Int) == 0)

            let spec = JailSpec(
                app: world.app, sha: sha, address: "127.0.0.9", artifact: "/a/hello",
                env: try AppEnvironment.resolve(world.app, layout: world.runtime.layout))
            let plan = ReleasePlan.render(try world.host.plan(.provision, spec))
            #expect(
                plan.contains("hello.env mode 600   # the app's environment: API_KEY LOG_LEVEL (values not shown)"), "\(plan)")
            #expect(!plan.contains(secret))
            #expect(plan.contains("/containers/hello_\(sha.prefix(12))_\(release.env)/"))
        }
    }
}
