import FoundationEssentials
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A failed file-system call, naming the call, the path and the errno.
public struct FileIOError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var code: Int32

    package init(operation: String, path: String, code: Int32) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    /// True when the file system is full (or the quota is exhausted).
    public var isDiskFull: Bool { code == ENOSPC || code == EDQUOT }

    /// The errno's text, e.g. "No such file or directory".
    public var reason: String { String(cString: strerror(code)) }

    public var description: String {
        let path = self.path.escapingControls
        if isDiskFull { return "disk full: \(operation) \(path): \(reason); free space on that file system and try again" }
        return "\(operation) \(path): \(reason)"
    }
}

/// Numbers the temporary files of atomic writes within this process.
private let temporaryCounter = Mutex<Int>(0)

/// Small POSIX file helpers whose errors keep errno (Foundation's do not, portably).
public enum FileIO {
    /// Creates `path` (which must not exist) with `bytes` and `mode`.
    public static func create(_ path: String, bytes: UnsafeRawBufferPointer, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileIOError(operation: "open", path: path, code: errno) }
        defer { close(fd) }
        try writeAll(fd, bytes, path: path)
        _ = fchmod(fd, mode)
    }

    /// Writes `text` to `path` atomically: a temporary file, fsync, then rename over `path`.
    public static func replace(_ path: String, text: String, mode: mode_t = 0o644) throws {
        try writeAtomically(path, mode: mode) { fd, temporary in
            try Array(text.utf8).withUnsafeBytes { try writeAll(fd, $0, path: temporary) }
        }
    }

    /// Writes `bytes` to `path` atomically, owned by `owner` (uid, gid) before it takes its name.
    public static func replace(_ path: String, bytes: [UInt8], mode: mode_t, owner: (uid_t, gid_t)) throws {
        try writeAtomically(path, mode: mode) { fd, temporary in
            try bytes.withUnsafeBytes { try writeAll(fd, $0, path: temporary) }
            guard fchown(fd, owner.0, owner.1) == 0 else { throw FileIOError(operation: "chown", path: temporary, code: errno) }
        }
    }

    /// Creates `path` through a temporary file next to it: `fill` writes the content, then
    /// fsync, mode and rename, so readers see the old file or the whole new one.
    private static func writeAtomically(
        _ path: String, mode: mode_t, _ fill: (_ fd: Int32, _ temporary: String) throws -> Void
    ) throws {
        // Unique per write: two tasks of one process replacing the same file must not share it.
        let temporary = "\(path).tmp.\(getpid()).\(temporaryCounter.withLock { n -> Int in n += 1; return n })"
        unlink(temporary)
        do {
            let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
            guard fd >= 0 else { throw FileIOError(operation: "open", path: temporary, code: errno) }
            defer { close(fd) }
            try fill(fd, temporary)
            guard fsync(fd) == 0 else { throw FileIOError(operation: "fsync", path: temporary, code: errno) }
            _ = fchmod(fd, mode)
            guard rename(temporary, path) == 0 else { throw FileIOError(operation: "rename", path: path, code: errno) }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// `mkdir -p` with `mode` for the directories it creates.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/\(part)"
            if mkdir(current, mode) != 0 && errno != EEXIST {
                throw FileIOError(operation: "mkdir", path: current, code: errno)
            }
        }
    }

    /// `rm -rf`, without following symlinks; a missing path is not an error.
    public static func removeTree(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw FileIOError(operation: "lstat", path: path, code: errno)
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            for name in names { try removeTree("\(path)/\(name)") }
            guard rmdir(path) == 0 else { throw FileIOError(operation: "rmdir", path: path, code: errno) }
        } else {
            guard unlink(path) == 0 else { throw FileIOError(operation: "unlink", path: path, code: errno) }
        }
    }

    /// Identity of a file's current content (inode, size, mtime), to notice replacement or
    /// rewrite cheaply; nil when it does not exist.
    public static func stamp(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        #if canImport(Darwin)
            return "\(info.st_ino):\(info.st_size):\(info.st_mtimespec.tv_sec):\(info.st_mtimespec.tv_nsec)"
        #else
            return "\(info.st_ino):\(info.st_size):\(info.st_mtim.tv_sec):\(info.st_mtim.tv_nsec)"
        #endif
    }

    /// Whether `path` (followed through symlinks) is a file this process may execute.
    public static func isExecutable(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
    }

    /// Whether `path` exists (without following a final symlink).
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// When `path` was last modified, in seconds since the epoch; nil when it does not exist.
    public static func modified(_ path: String) -> Double? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        #if canImport(Darwin)
            return Double(info.st_mtimespec.tv_sec) + Double(info.st_mtimespec.tv_nsec) / 1e9
        #else
            return Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
        #endif
    }

    /// Appends `text` to an existing file (never creates or follows into a new one).
    public static func append(_ path: String, text: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw FileIOError(operation: "open", path: path, code: errno) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        try bytes.withUnsafeBytes { try writeAll(fd, $0, path: path) }
    }

    /// The size of the file at `path` in bytes (not following a final symlink); nil when absent.
    public static func size(_ path: String) -> Int? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return Int(info.st_size)
    }

    /// Whether `path` is a directory (following symlinks).
    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The file as UTF-8 text (invalid bytes replaced); with `lastBytes`, only its tail, for logs
    /// that may have grown large.
    public static func readText(_ path: String, lastBytes: Int? = nil) throws -> String {
        guard let lastBytes else { return String(decoding: try readAll(path), as: UTF8.self) }
        return String(decoding: try readBytes(path, lastBytes: lastBytes), as: UTF8.self)
    }

    private static func readAll(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileIOError(operation: "open", path: path, code: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        try readChunks(fd, path: path) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// The last `lastBytes` bytes of the file (all of it when shorter), however large it is.
    public static func readBytes(_ path: String, lastBytes: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileIOError(operation: "open", path: path, code: errno) }
        defer { close(fd) }
        let size = lseek(fd, 0, SEEK_END)
        _ = lseek(fd, max(0, size - off_t(lastBytes)), SEEK_SET)
        var bytes: [UInt8] = []
        try readChunks(fd, path: path) {
            bytes.append(contentsOf: $0)
            // A file still growing while it is read: keep only its tail.
            if bytes.count > lastBytes { bytes.removeFirst(bytes.count - lastBytes) }
        }
        return bytes
    }

    /// The file's bytes, refusing (EFBIG) a file larger than `limit`: outside input is read
    /// into bounded memory.
    public static func readBytes(_ path: String, limit: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileIOError(operation: "open", path: path, code: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        try readChunks(fd, path: path) {
            guard bytes.count + $0.count <= limit else { throw FileIOError(operation: "read", path: path, code: EFBIG) }
            bytes.append(contentsOf: $0)
        }
        return bytes
    }

    /// Copies `from` to `to` with `mode` atomically, in chunks: a release's binary is megabytes,
    /// and reading it whole would leave the agent's heap that much bigger for good.
    public static func copy(from: String, to: String, mode: mode_t) throws {
        let source = open(from, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { throw FileIOError(operation: "open", path: from, code: errno) }
        defer { close(source) }
        try writeAtomically(to, mode: mode) { fd, temporary in
            try readChunks(source, path: from) { try writeAll(fd, $0, path: temporary) }
        }
    }

    /// Reads `fd` to its end in 64 KiB chunks, handing each to `body`.
    private static func readChunks(_ fd: Int32, path: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw FileIOError(operation: "read", path: path, code: errno) }
            if n == 0 { return }
            try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileIOError(operation: "write", path: path, code: errno)
            }
            offset += n
        }
    }

    /// The directory holding `path` ("/a/b" → "/a", "/a" → "/", "b" → "").
    public static func parent(_ path: String) -> String {
        var bytes = Array(path.utf8)
        while bytes.count > 1 && bytes.last == UInt8(ascii: "/") { bytes.removeLast() }
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return "" }
        return slash == 0 ? "/" : String(decoding: bytes[..<slash], as: UTF8.self)
    }

    /// Writes `text` to standard error in one write(2), ignoring failures (there is nowhere
    /// left to report them).
    /// Whether standard input is a terminal (a person who can answer a question).
    public static var standardInputIsTerminal: Bool { isatty(0) == 1 }

    public static func writeStandardError(_ text: String) {
        var text = text
        text.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
            }
        }
    }
}
