import Foundation
import JailPilot
import Testing

/// On Linux the agent rotates each running release's log (newsyslog does it in FreeBSD jails):
/// past `[jails] log_size` the log is copied to `.1`, older ones shift, `log_keep` are kept, and
/// the file the service appends to is cut to zero, not replaced.
@Suite struct LogRotationTests {
    @Test func aLogPastItsSizeIsRotatedAndOnlyLogKeepOldOnesStay() throws {
        let scratch = try Scratch("rotate")
        let config = try ConfigLoader.parse(
            """
            [agent]
            platform = "linux"
            state_dir = "\(scratch.path)/state"
            [jails]
            mountpoint = "\(scratch.path)/jails"
            log_size = "64KiB"
            log_keep = 2
            [apps.hello]
            repo = "https://example.org/h.git"
            hostnames = ["h.example.org"]
            """, file: "agent.conf")
        let host = LinuxJails(
            settings: config.jails, runner: HostProcessRunner(), owner: OwnerID(id: "0123456789abcdef", stateDir: scratch.path))
        let spec = JailSpec(
            app: try #require(config.app("hello")), sha: String(repeating: "a", count: 40), address: "172.31.0.2", artifact: "/x")
        let log = host.logPath(spec)
        try FileIO.makeDirectories((log as NSString).deletingLastPathComponent)
        // The service's own descriptor, appending, as the supervisor opens it.
        let writer = try #require(FileHandle(forUpdatingAtPath: try createEmpty(log)))
        func append(_ text: String) throws {
            try writer.seekToEnd()
            try writer.write(contentsOf: Data(text.utf8))
        }
        let line = String(repeating: "x", count: 1023) + "\n"
        for round in 1...3 {
            try append("round \(round)\n" + String(repeating: line, count: 70))
            host.rotateLog(spec, limit: config.jails.logSize, keep: config.jails.logKeep)
            #expect(FileIO.size(log) == 0, "the live log is cut to zero in round \(round)")
        }
        try append("after\n")
        #expect(try String(contentsOfFile: log, encoding: .utf8) == "after\n", "the service keeps writing to the same file")
        #expect(try String(contentsOfFile: log + ".1", encoding: .utf8).hasPrefix("round 3"))
        #expect(try String(contentsOfFile: log + ".2", encoding: .utf8).hasPrefix("round 2"))
        #expect(!FileManager.default.fileExists(atPath: log + ".3"), "only log_keep old logs stay")
        host.rotateLog(spec, limit: config.jails.logSize, keep: config.jails.logKeep)
        #expect(try String(contentsOfFile: log, encoding: .utf8) == "after\n", "a small log is left alone")
    }

    func createEmpty(_ path: String) throws -> String {
        try FileIO.replace(path, text: "")
        return path
    }
}
