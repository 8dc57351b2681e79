import FoundationEssentials
import Glibc
import JailPilotCore

/// Builds a crash left behind: every build holds a flock on `staging/<id>.lock` while it runs,
/// so one whose lock can be taken is over, and its sandbox (a FreeBSD build jail with its
/// mounts and clone) and staging directory can go.
extension Builder {
    /// Takes the build lock of build `id`; held until the build is over.
    func lockBuild(_ id: String) throws -> LockFile {
        switch try LockFile.acquire("\(layout.staging)/\(id).lock") {
        case .success(let lock): return lock
        case .failure(let holder): throw BuildHeld(id: id, pid: holder.pid)
        }
    }

    /// Gives build `id`'s lock up and removes its file.
    func unlockBuild(_ id: String, _ lock: LockFile) {
        unlink("\(layout.staging)/\(id).lock")
        lock.release()
    }

    /// Tears down every build no process is running any more; returns their ids. Called when the
    /// agent starts. A build another process (`jailpilot deploy`) is running keeps its lock and
    /// is left alone.
    public func reclaimAbandoned() async -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: layout.staging)) ?? []
        let locked = Set(names.filter { $0.hasSuffix(".lock") }.map { String($0.dropLast(5)) })
        var reclaimed: [String] = []
        let sandbox = try? confinement()
        for id in names.filter({ FileIO.isDirectory("\(layout.staging)/\($0)") && $0 != "addresses" }) + locked.sorted()
        where !reclaimed.contains(id) {
            // A staging directory without a lock file is older than build locks, or its build is
            // over; with one, the build is over only when its lock can be taken.
            var lock: LockFile?
            if locked.contains(id) {
                guard let held = try? lockBuild(id) else { continue }
                lock = held
            }
            let scope = BuildScope(id: id, writable: ["\(layout.staging)/\(id)"], network: false)
            if let sandbox {
                do { try await sandbox.teardown(scope) } catch {
                    log.emit(app: "-", "build.reclaim_failed", [("build", id), ("error", "\(error)")])
                    lock?.release()
                    continue
                }
            }
            try? FileIO.removeTree("\(layout.staging)/\(id)")
            if let lock { unlockBuild(id, lock) }
            log.emit(app: "-", "build.reclaimed", [("build", id)])
            reclaimed.append(id)
        }
        return reclaimed
    }
}

/// Another process runs a build of the same id (never expected: ids carry a random part).
struct BuildHeld: Error, CustomStringConvertible {
    var id: String
    var pid: String
    var description: String { "build \(id) is already running as pid \(pid)" }
}
