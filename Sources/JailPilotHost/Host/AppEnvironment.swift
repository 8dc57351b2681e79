import FoundationEssentials
import Glibc
import JailPilotCore

/// What an app's releases get in their environment besides PORT, JAILPILOT_APP and
/// JAILPILOT_SHA: `env` from agent.conf, then each of `env_files` in order (a later value wins).
///
/// Values are secrets. They go only into a root-only file inside the release (sourced by its
/// start script as root before it drops to the app's user, so they never appear in a process's
/// arguments) and into a digest that names the release. Logs, the store, `status` and `plan`
/// see names and the digest, never a value.
public struct AppEnvironment: Sendable, Equatable {
    /// Name and value, sorted by name.
    public var values: [(name: String, value: String)]
    /// The app's `files` as read for this release, sorted by their path in the jail.
    public var files: [ReleaseFile] = []
    /// 8 hex digits of an HMAC of `values`, the service's `args` and `files` (paths, modes and
    /// content) under this state_dir's own key; "" with none. Part of the release name:
    /// changing a variable, a secrets file, an argument or a release file makes a new release.
    public var digest: String

    public var names: [String] { values.map(\.name) }

    public static func == (a: AppEnvironment, b: AppEnvironment) -> Bool {
        a.digest == b.digest && a.values.map(\.name) == b.values.map(\.name) && a.values.map(\.value) == b.values.map(\.value)
            && a.files == b.files
    }

    public static let empty = AppEnvironment(values: [], digest: "")

    /// The port an app listens on unless agent.conf says otherwise.
    public static let defaultPort = 8080

    public init(values: [(name: String, value: String)], files: [ReleaseFile] = [], digest: String) {
        self.values = values
        self.files = files
        self.digest = digest
    }

    /// Reads `app`'s variables and secrets files; the digest is keyed by `layout`'s env key.
    public static func resolve(_ app: AppConfig, layout: StateLayout) throws -> AppEnvironment {
        let merged = try merge(app)
        let files = try app.files.sorted { $0.key < $1.key }.map { try ReleaseFile.read($0.value, to: $0.key, app: app.name) }
        guard !merged.isEmpty || !app.args.isEmpty || !files.isEmpty || app.port != defaultPort else { return .empty }
        let values = merged.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
        var canonical: [UInt8] = []
        for (name, value) in values { canonical += Array(name.utf8) + [0] + Array(value.utf8) + [0] }
        // Arguments after a byte no UTF-8 text holds: no set of variables digests like them, and
        // an app without arguments keeps the digest (and release names) it had before them.
        if !app.args.isEmpty {
            canonical += [0xff] + Array("args".utf8) + [0]
            for argument in app.args { canonical += Array(argument.utf8) + [0] }
        }
        // Files after another such byte: path, mode, length, then exactly the content.
        if !files.isEmpty {
            canonical += [0xfe] + Array("files".utf8) + [0]
            for file in files {
                canonical += Array("\(file.path)\0\(file.mode)\0\(file.bytes.count)\0".utf8) + file.bytes
            }
        }
        // The port, when it is not the default: a port change alone is a new release (the route
        // follows the release), and an app on 8080 keeps the names its releases had before.
        if app.port != defaultPort { canonical += [0xfd] + Array("port\0\(app.port)\0".utf8) }
        let mac = SHA1.hmac(key: try key(layout), message: canonical)
        return AppEnvironment(
            values: values, files: files, digest: mac.prefix(4).map { String.hex(UInt64($0), width: 2) }.joined())
    }

    /// The names `app` sets now, sorted (for `status`); a file that cannot be read adds none.
    public static func names(_ app: AppConfig) -> [String] {
        var names = Set(app.env.keys)
        for file in app.envFiles { names.formUnion(((try? EnvFile.read(file, app: app.name)) ?? []).map(\.0)) }
        return names.sorted()
    }

    /// `env`, then each of `env_files` in order: a later value wins.
    static func merge(_ app: AppConfig) throws -> [String: String] {
        var merged = app.env
        for file in app.envFiles {
            for (name, value) in try EnvFile.read(file, app: app.name) { merged[name] = value }
        }
        return merged
    }

    /// This state_dir's digest key (32 random bytes, root-only), made on first use: without it a
    /// digest of a short secret could be matched by trying values.
    static func key(_ layout: StateLayout) throws -> [UInt8] {
        let path = "\(layout.root)/env.key"
        if let bytes = try? FileIO.readBytes(path, limit: 64), bytes.count == 32 { return bytes }
        var bytes = [UInt8](repeating: 0, count: 32)
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        guard fd >= 0, read(fd, &bytes, 32) == 32 else {
            if fd >= 0 { close(fd) }
            throw FileIOError(operation: "read", path: "/dev/urandom", code: errno)
        }
        close(fd)
        try bytes.withUnsafeBytes { try FileIO.create(path, bytes: $0, mode: 0o600) }
        return try FileIO.readBytes(path, limit: 64)
    }

    /// The file a release's start script sources (as root, with `set -a`): one `NAME='value'`
    /// per variable, each value single-quoted so that nothing in it is expanded.
    public var shellFile: String {
        "# Written by jailpilot: the app's environment. Root only.\n"
            + values.map { "\($0.name)=\(ShellQuote.single($0.value))\n" }.joined()
    }
}

/// One `env_files` file: KEY=VALUE lines, `#` comments and blank lines; `export ` before a key
/// is allowed; a value wrapped in matching single or double quotes loses them (no escapes).
/// Only root may be able to read or write it: it holds secrets.
enum EnvFile {
    static let limit = 64 << 10

    static func read(_ path: String, app: String) throws -> [(String, String)] {
        let (size, problem) = RootOwnedFile.check(path, for: .secret)
        if let problem { throw EnvFileError(app: app, file: path, line: nil, problem: problem.sentence) }
        guard size <= limit else {
            throw EnvFileError(app: app, file: path, line: nil, problem: "is larger than 64 KiB")
        }
        let bytes = try FileIO.readBytes(path, limit: limit)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw EnvFileError(app: app, file: path, line: nil, problem: "is not UTF-8 text")
        }
        var out: [(String, String)] = []
        // "\r\n" is one Character in Swift: split on both line ends.
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .enumerated()
        {
            var line = raw
            while line.first == " " || line.first == "\t" { line = line.dropFirst() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = line.dropFirst(7) }
            guard let eq = line.firstIndex(of: "=") else {
                throw EnvFileError(app: app, file: path, line: index + 1, problem: "is not NAME=VALUE")
            }
            let name = String(line[..<eq])
            if let problem = Names.envNameProblem(name) {
                throw EnvFileError(app: app, file: path, line: index + 1, problem: "the name \(problem)")
            }
            var value = line[line.index(after: eq)...]
            if value.count >= 2, let q = value.first, q == "'" || q == "\"", value.last == q {
                value = value.dropFirst().dropLast()
            }
            guard !value.contains("\0") else {
                throw EnvFileError(app: app, file: path, line: index + 1, problem: "the value holds a NUL byte")
            }
            out.append((name, String(value)))
        }
        return out
    }
}

/// A secrets file that cannot be used; the deploy did not start. Never carries a value.
public struct EnvFileError: Error, Sendable, CustomStringConvertible {
    public var app: String
    public var file: String
    public var line: Int?
    public var problem: String
    public var description: String {
        "app \(app): env_files \(file)\(line.map { ":\($0)" } ?? "") \(problem); nothing was deployed"
    }
}
