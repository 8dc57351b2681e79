import FoundationEssentials

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

    /// True when the file system is full (or the quota is exhausted).
    public var isDiskFull: Bool { code == ENOSPC || code == EDQUOT }

    /// The errno's text, e.g. "No such file or directory".
    public var reason: String { String(cString: strerror(code)) }

    public var description: String {
        if isDiskFull { return "disk full: \(operation) \(path): \(reason); free space on that file system and try again" }
        return "\(operation) \(path): \(reason)"
    }
}

/// Small POSIX file helpers whose errors keep errno (Foundation's do not, portably).
public enum FileIO {
    /// Creates `path` (which must not exist) with `bytes` and `mode`, fsyncing if asked.
    public static func create(_ path: String, bytes: UnsafeRawBufferPointer, mode: mode_t, sync: Bool = false) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileIOError(operation: "open", path: path, code: errno) }
        defer { close(fd) }
        try writeAll(fd, bytes, path: path)
        if sync && fsync(fd) != 0 { throw FileIOError(operation: "fsync", path: path, code: errno) }
        _ = fchmod(fd, mode)
    }

    /// Writes `text` to `path` atomically: a temporary file, fsync, then rename over `path`.
    public static func replace(_ path: String, text: String, mode: mode_t = 0o644) throws {
        let temporary = "\(path).tmp.\(getpid())"
        unlink(temporary)
        do {
            try Array(text.utf8).withUnsafeBytes { try create(temporary, bytes: $0, mode: mode, sync: true) }
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

    /// Whether `path` exists (without following a final symlink).
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// The whole file as UTF-8 text (invalid bytes replaced).
    public static func readText(_ path: String) throws -> String {
        try readText(path, lastBytes: nil)
    }

    /// At most the last `lastBytes` of the file (all of it when nil), as UTF-8 text; for logs
    /// that may have grown large.
    public static func readText(_ path: String, lastBytes: Int?) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileIOError(operation: "open", path: path, code: errno) }
        defer { close(fd) }
        if let lastBytes {
            let size = lseek(fd, 0, SEEK_END)
            _ = lseek(fd, max(0, size - off_t(lastBytes)), SEEK_SET)
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                bytes.append(contentsOf: buffer[0..<n])
            } else if n == 0 {
                return String(decoding: bytes, as: UTF8.self)
            } else if errno != EINTR {
                throw FileIOError(operation: "read", path: path, code: errno)
            }
        }
    }

    /// Copies `from` to `to` with `mode` through a temporary file, fsync and rename, in small
    /// chunks: a release's binary is megabytes, and reading it whole would leave the agent's
    /// heap that much bigger for good.
    public static func copy(from: String, to: String, mode: mode_t) throws {
        let source = open(from, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { throw FileIOError(operation: "open", path: from, code: errno) }
        defer { close(source) }
        let temporary = "\(to).jailpilot-new"
        unlink(temporary)
        let target = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard target >= 0 else { throw FileIOError(operation: "open", path: temporary, code: errno) }
        do {
            defer { close(target) }
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw FileIOError(operation: "read", path: from, code: errno) }
                if n == 0 { break }
                try buffer.withUnsafeBytes { try writeAll(target, UnsafeRawBufferPointer(rebasing: $0[0..<n]), path: temporary) }
            }
            guard fsync(target) == 0 else { throw FileIOError(operation: "fsync", path: temporary, code: errno) }
            _ = fchmod(target, mode)
            guard rename(temporary, to) == 0 else { throw FileIOError(operation: "rename", path: to, code: errno) }
        } catch {
            unlink(temporary)
            throw error
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
