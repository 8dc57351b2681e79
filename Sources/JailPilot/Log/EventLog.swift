import Foundation

/// Where events go: one logfmt line each in the agent log (and optionally stderr), and a row in
/// the state store.
///
/// Lines are written with a single `write(2)` to a file opened `O_APPEND`, so `tail -f` and
/// concurrent writers never see half lines; a rotated log (newsyslog, logrotate) is picked up by
/// reopening when the path no longer names the open file.
public final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private let path: String?
    private let echo: Bool
    private let store: StateStore?
    private var fd: Int32 = -1
    private var inode: UInt64 = 0

    /// Logs to `path` (if any), echoing to stderr when `echo`, recording into `store`.
    public init(path: String?, echo: Bool, store: StateStore?) {
        self.path = path
        self.echo = echo
        self.store = store
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Writes and records `event`. Logging never fails a deploy: a log write error is reported on stderr.
    public func emit(_ event: Event) {
        let line = Self.format(event) + "\n"
        lock.withLock {
            if echo { FileHandle.standardError.write(Data(line.utf8)) }
            if let path { append(line, to: path) }
        }
        do { try store?.record(event) } catch {
            FileHandle.standardError.write(Data("jailpilot: cannot record event in state store: \(error)\n".utf8))
        }
    }

    /// Convenience for `emit(Event(...))`.
    public func emit(app: String, sha: String? = nil, _ name: String, took: Duration? = nil, _ fields: [(String, String)] = []) {
        emit(Event(app: app, sha: sha, name: name, took: took, fields: fields))
    }

    /// The logfmt line for `event` (without newline); SHAs are shortened to 12 characters.
    public static func format(_ event: Event) -> String {
        var parts = [Logfmt.pair("ts", timestamp(event.time)), Logfmt.pair("app", event.app)]
        if let sha = event.sha { parts.append(Logfmt.pair("sha", String(sha.prefix(12)))) }
        parts.append(Logfmt.pair("event", event.name))
        if let took = event.took { parts.append(Logfmt.pair("took", Logfmt.seconds(took))) }
        parts += event.fields.map { Logfmt.pair($0, $1) }
        return parts.joined(separator: " ")
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    private func append(_ line: String, to path: String) {
        var info = stat()
        if fd >= 0 && (stat(path, &info) != 0 || UInt64(info.st_ino) != inode) {
            close(fd)
            fd = -1
        }
        if fd < 0 {
            try? FileIO.makeDirectories((path as NSString).deletingLastPathComponent)
            fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
            if fd >= 0, fstat(fd, &info) == 0 { inode = UInt64(info.st_ino) }
        }
        guard fd >= 0 else {
            FileHandle.standardError.write(Data("jailpilot: cannot open log \(path): \(String(cString: strerror(errno)))\n".utf8))
            return
        }
        let bytes = Array(line.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}
