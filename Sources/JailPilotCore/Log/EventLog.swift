import FoundationEssentials
import Glibc

/// Where events go: one logfmt line each in the agent log (and optionally stderr), and a row in
/// the state store.
///
/// Lines are written with a single `write(2)` to a file opened `O_APPEND`, so `tail -f` and
/// concurrent writers never see half lines; a rotated log (newsyslog, logrotate) is picked up by
/// reopening when the path no longer names the open file.
public final class EventLog: @unchecked Sendable {
    private let lock = Lock()
    private let path: String?
    private let echo: Bool
    private let store: StateStore?
    private var fd: Int32 = -1
    private var inode: UInt64 = 0
    private var said: Set<String> = []
    private var observers: [@Sendable (Event) -> Void] = []

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
            if echo { FileIO.writeStandardError(line) }
            if let path { append(line, to: path) }
        }
        do { try store?.record(event) } catch {
            FileIO.writeStandardError("jailpilot: cannot record event in state store: \(error)\n")
        }
        for observer in lock.withLock({ observers }) { observer(event) }
    }

    /// Calls `observer` with every event emitted from now on, after it is written (the
    /// notifications' outbox). It must be quick and must not emit events itself.
    public func observe(_ observer: @escaping @Sendable (Event) -> Void) { lock.withLock { observers.append(observer) } }

    /// Emits `event` the first time this log is given `key`, and never again in this process.
    public func emitOnce(key: String, _ event: Event) {
        guard lock.withLock({ said.insert(key).inserted }) else { return }
        emit(event)
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

    /// RFC 3339 UTC with milliseconds, e.g. `2026-11-27T02:41:45.123Z`.
    public static func timestamp(_ date: Date) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(millis / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ n: Int32, _ width: Int) -> String { String(n).leftPadded(to: width) }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis % 1000), 3))Z"
    }

    private func append(_ line: String, to path: String) {
        var info = stat()
        if fd >= 0 && (stat(path, &info) != 0 || UInt64(info.st_ino) != inode) {
            close(fd)
            fd = -1
        }
        if fd < 0 {
            try? FileIO.makeDirectories(FileIO.parent(path))
            fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
            if fd >= 0, fstat(fd, &info) == 0 { inode = UInt64(info.st_ino) }
        }
        guard fd >= 0 else {
            FileIO.writeStandardError("jailpilot: cannot open log \(path): \(String(cString: strerror(errno)))\n")
            return
        }
        let bytes = Array(line.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}
