import FoundationEssentials
import Glibc
import JailPilotCore

/// Resolving paths inside an exported tree the way the kernel would, without ever leaving it.
enum TreePaths {
    /// Symlink hops allowed in one resolution (Linux's and FreeBSD's MAXSYMLINKS is 40 and 32).
    static let maxHops = 32

    /// Why the symlink at `link` (relative to `root`) leads outside `root`, or nil when every
    /// step of its resolution stays inside. Each component is looked at on disk: a component
    /// that is itself a symlink is replaced by its target, as path resolution does.
    static func escape(of link: String, root: String) -> String? {
        var resolved: [String] = []
        // Start at the link itself: its parent, then its target.
        var parts = link.split(separator: "/").map(String.init)
        guard !parts.isEmpty else { return nil }
        var pending: [String] = [parts.removeLast()]
        resolved = parts
        var hops = 0
        while !pending.isEmpty {
            let part = pending.removeFirst()
            if part == "." || part.isEmpty { continue }
            if part == ".." {
                guard !resolved.isEmpty else { return "symlink \(link) leads outside the source tree" }
                resolved.removeLast()
                continue
            }
            let path = root + "/" + (resolved + [part]).joined(separator: "/")
            var info = stat()
            if lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFLNK {
                hops += 1
                guard hops <= maxHops else { return "symlink \(link) loops (more than \(maxHops) links)" }
                var buffer = [CChar](repeating: 0, count: 4097)
                let count = readlink(path, &buffer, 4096)
                guard count >= 0 else { return "symlink \(link) cannot be read" }
                let target = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if target.hasPrefix("/") { return "symlink \(link) leads to an absolute path" }
                pending = target.split(separator: "/", omittingEmptySubsequences: true).map(String.init) + pending
                continue
            }
            resolved.append(part)
        }
        return nil
    }
}
