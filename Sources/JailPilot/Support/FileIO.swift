import Foundation

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

    public var description: String {
        let reason = String(cString: strerror(code))
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
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileIOError(operation: "write", path: path, code: errno)
            }
            offset += n
        }
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
}
