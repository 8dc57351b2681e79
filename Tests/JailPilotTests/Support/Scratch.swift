import Foundation
import JailPilot

/// A temporary directory for one test, removed when the test drops it.
final class Scratch: @unchecked Sendable {
    /// Where every test's scratch lives: one per user, so a run as another user after a root
    /// run does not find root's directory in its way.
    static let root = getuid() == 0 ? "/tmp/jailpilot-tests" : "/tmp/jailpilot-tests-\(getuid())"

    let path: String

    init(_ label: String = "t") throws {
        path = "\(Self.root)/\(label)-\(UUID().uuidString.prefix(8).lowercased())"
        try FileIO.makeDirectories(path)
    }

    deinit { try? FileIO.removeTree(path) }

    /// Writes `text` to `name` under the scratch directory and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let file = "\(path)/\(name)"
        try FileIO.makeDirectories((file as NSString).deletingLastPathComponent)
        try FileIO.replace(file, text: text)
        return file
    }
}

/// Whether the tests run as root (needed for mounts, btrfs and network namespaces).
let isRoot = getuid() == 0

/// Whether a program is on PATH.
func have(_ program: String) -> Bool {
    (try? HostProcessRunnerPath.resolve(program)) != nil
}

enum HostProcessRunnerPath {
    static func resolve(_ name: String) throws -> String {
        if name.contains("/") {
            guard access(name, X_OK) == 0 else { throw ProcessError.notFound(executable: name, path: "") }
            return name
        }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw ProcessError.notFound(executable: name, path: "")
    }
}

/// Runs a command for a test and returns stdout; throws on failure.
@discardableResult
func sh(_ argv: [String], in directory: String? = nil, env: [String: String]? = nil) async throws -> String {
    var environment = ProcessInfo.processInfo.environment
    environment.merge(env ?? [:]) { $1 }
    let result = try await HostProcessRunner().checked(
        Command(argv[0], Array(argv.dropFirst()), environment: environment, workingDirectory: directory))
    return result.stdoutText
}

/// Waits until `check` holds (polling every 100 ms), up to `limit`.
func eventually(_ limit: Duration = .seconds(60), _ check: () async throws -> Bool) async rethrows -> Bool {
    let end = ContinuousClock.now + limit
    while ContinuousClock.now < end {
        if try await check() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return false
}
