import FoundationEssentials
import Glibc
import JailPilotCore

/// One step of a host plan: a command to run or a file to write, as a value.
public enum HostStep: Sendable, Equatable, CustomStringConvertible {
    /// Run a command; with `mayFail`, a non-zero exit is ignored (idempotent teardown). `limit`:
    /// how long it may run, where a setting it wraps makes that longer than
    /// `PlanExecutor.defaultLimit` (jail -r waits out the drain); nil is the default.
    case run(Command, mayFail: Bool = false, limit: Duration? = nil)
    /// Run a command again, with backoff, while it fails saying `busy` (up to `attempts` runs):
    /// for a resource the kernel releases a moment later, such as a dying jail's dataset.
    case retry(Command, attempts: Int, busy: String)
    /// Run a command again and again while it succeeds, for up to `budget`: waiting for the
    /// kernel to let go of something, such as a removed jail that is still dying (`jls -d`).
    /// `reason` says what is waited for and why it may take that long; `fix` what to do when it
    /// is still so after `budget` (the step then fails).
    case waitWhile(Command, budget: Duration, reason: String, fix: String)
    /// Write a file with exactly this content and mode, replacing it atomically.
    case write(path: String, content: String, mode: UInt16)
    /// Write a root-only (0600) file holding secrets: `plan` shows its path and `names`, never
    /// the content.
    case secret(path: String, content: String, names: [String])
    /// Install one of the app's `files` at `path` (on the host, inside the jail's root): root's,
    /// group nobody, its mode from the host file's (ReleaseFile.mode). `plan` shows where it
    /// came from and its size, never the content.
    case releaseFile(path: String, file: ReleaseFile)
    /// Write `value` into an existing kernel interface file (cgroupfs, sysfs): a plain write,
    /// where `.write` would replace the file, which those filesystems do not allow.
    case put(path: String, value: String)
    /// Copy a file from the host into place with a mode.
    case install(from: String, to: String, mode: UInt16)
    /// Rename a file or directory, refusing to replace an existing target.
    case rename(from: String, to: String)
    /// Start a long-running command detached, recording its pid.
    case spawn(Command, pidFile: String)
    /// Stop what `pidFile` names (its children get SIGTERM: a supervisor that forwards it), wait
    /// up to `drain` for `listPids` to print no pid, SIGKILL what it still prints, remove the
    /// pid file. A pid whose command line lacks `marker` is not ours (reused) and not signalled.
    case terminate(pidFile: String, marker: String, listPids: Command, drain: Duration)
    /// Remove a file or directory tree the state no longer needs (retention); gone is fine.
    case remove(path: String)
    /// Something the driver does in code between commands (signals, waits), described for the plan.
    case note(String)

    /// One line (or a file block) for `jailpilot plan`, shell-quoted for reading.
    public var description: String {
        switch self {
        case .run(let command, let mayFail, let limit):
            let notes = [
                mayFail ? "may fail: already gone" : nil,
                limit.flatMap { $0 == PlanExecutor.defaultLimit ? nil : "time limit \(DurationText.format($0))" },
            ].compactMap { $0 }
            return command.description + (notes.isEmpty ? "" : "   # " + notes.joined(separator: "; "))
        case .retry(let command, let attempts, let busy):
            return command.description + "   # retried up to \(attempts) times while it says \"\(busy)\""
        case .waitWhile(let command, let budget, let reason, _):
            return command.description + "   # wait up to \(DurationText.format(budget)) while it succeeds: \(reason)"
        case .write(let path, let content, let mode):
            return
                "write \(ShellQuote.quote(path)) mode \(String(mode, radix: 8)) <<'EOF'\n\(content)\(content.hasSuffix("\n") ? "" : "\n")EOF"
        case .secret(let path, _, let names):
            return
                "write \(ShellQuote.quote(path)) mode 600   # the app's environment: \(names.isEmpty ? "none" : names.joined(separator: " ")) (values not shown)"
        case .releaseFile(let path, let file):
            return
                "install -o root -g \(AppUser.gid) -m \(String(file.mode, radix: 8)) \(ShellQuote.quote(file.source)) \(ShellQuote.quote(path))   # files: \(file.bytes.count) bytes as read for this release (content not shown)"
        case .put(let path, let value):
            return "echo \(ShellQuote.quote(value)) > \(ShellQuote.quote(path))"
        case .install(let from, let to, let mode):
            return "install -m \(String(mode, radix: 8)) \(ShellQuote.quote(from)) \(ShellQuote.quote(to))"
        case .rename(let from, let to):
            return "mv -T \(ShellQuote.quote(from)) \(ShellQuote.quote(to))   # refused if the target exists"
        case .spawn(let command, let pidFile):
            return "\(command) &   # pid in \(pidFile)"
        case .terminate(let pidFile, _, let listPids, let drain):
            return
                "kill -TERM the children of $(cat \(ShellQuote.quote(pidFile))); wait up to \(DurationText.format(drain)) until `\(listPids)` prints none; kill -KILL what it prints; rm -f \(ShellQuote.quote(pidFile))"
        case .remove(let path): return "rm -rf \(ShellQuote.quote(path))"
        case .note(let text): return "# \(text)"
        }
    }
}

/// A host step failed; says which and why.
public struct HostStepError: Error, Sendable, CustomStringConvertible {
    public var step: String
    public var message: String

    public init(step: String, message: String) {
        self.step = step
        self.message = message
    }
    public var description: String { "\(step): \(message)" }
}

/// Runs host plans with a `ProcessRunning`: the one interpreter of the steps `plan` prints.
public struct PlanExecutor: Sendable {
    public let runner: any ProcessRunning
    /// The first pause of a `.retry` step (it doubles up to 4 s) and of a `.waitWhile` step (up to 1 s).
    public var retryPause: Duration
    /// How long a command step may run unless it says otherwise (`.run`'s `limit`).
    public static let defaultLimit: Duration = .seconds(120)
    /// Where each step is noted as it starts (tests compare it with the printed plan).
    public var recorder: StepRecorder?
    /// What reaching a step does (nothing unless a crash test injected its own).
    public var crash: any CrashPoints

    public init(
        runner: any ProcessRunning, retryPause: Duration = .milliseconds(250), recorder: StepRecorder? = nil,
        crash: any CrashPoints = NoCrashPoints()
    ) {
        self.runner = runner
        self.retryPause = retryPause
        self.recorder = recorder
        self.crash = crash
    }

    /// Runs `steps` in order; stops at the first failure.
    public func execute(_ steps: [HostStep]) async throws {
        for step in steps { try await execute(step) }
    }

    /// Runs one step.
    public func execute(_ step: HostStep) async throws {
        recorder?.record(step)
        switch step {
        case .run(let command, let mayFail, let limit):
            let limit = limit ?? Self.defaultLimit
            let result = try await runner.run(command, timeout: limit)
            if result.timedOut {
                // Killed: whatever it was doing is half done, even for a step that may fail.
                throw HostStepError(
                    step: command.description,
                    message:
                        "killed after its time limit of \(DurationText.format(limit)); see what it left (mounts, addresses) and run it again"
                )
            }
            if !result.succeeded && !mayFail {
                throw HostStepError(
                    step: command.description,
                    message: "exit \(result.status): \(result.stderrText.trimmedWhitespace)")
            }
        case .retry(let command, let attempts, let busy):
            var pause = retryPause
            for attempt in 1...max(1, attempts) {
                let result = try await runner.run(command, timeout: Self.defaultLimit)
                if result.succeeded { return }
                guard attempt < attempts, result.stderrText.contains(busy) else {
                    throw HostStepError(
                        step: command.description,
                        message: "exit \(result.status) after \(attempt) tries: \(result.stderrText.trimmedWhitespace)")
                }
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(4))
            }
        case .write(let path, let content, let mode):
            do {
                try FileIO.makeDirectories(FileIO.parent(path))
                try FileIO.replace(path, text: content, mode: mode_t(mode))
            } catch { throw HostStepError(step: "write \(path)", message: "\(error)") }
        case .secret(let path, let content, _):
            do {
                try FileIO.makeDirectories(FileIO.parent(path))
                try FileIO.replace(path, text: content, mode: 0o600)
            } catch { throw HostStepError(step: "write \(path)", message: "\(error)") }
        case .releaseFile(let path, let file):
            do {
                try FileIO.makeDirectories(FileIO.parent(path))
                try FileIO.replace(path, bytes: file.bytes, mode: mode_t(file.mode), owner: (0, gid_t(AppUser.gid)!))
            } catch { throw HostStepError(step: "install \(path)", message: "\(error)") }
        case .put(let path, let value):
            let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
            guard fd >= 0 else { throw HostStepError(step: "echo \(value) > \(path)", message: String(cString: strerror(errno))) }
            defer { close(fd) }
            let bytes = Array(value.utf8)
            guard write(fd, bytes, bytes.count) == bytes.count else {
                throw HostStepError(step: "echo \(value) > \(path)", message: String(cString: strerror(errno)))
            }
        case .install(let from, let to, let mode):
            await crash.reach("install")
            do {
                try FileIO.makeDirectories(FileIO.parent(to))
                try FileIO.copy(from: from, to: to, mode: mode_t(mode))
            } catch { throw HostStepError(step: "install \(to)", message: "\(error)") }
        case .rename(let from, let to):
            guard !FileIO.exists(to) else {
                throw HostStepError(step: "rename \(from) to \(to)", message: "\(to) already exists; it was not replaced")
            }
            guard Glibc.rename(from, to) == 0 else {
                throw HostStepError(step: "rename \(from) to \(to)", message: String(cString: strerror(errno)))
            }
        case .spawn(let command, let pidFile):
            do {
                let process = try BackgroundProcess(command)
                process.detach()
                try FileIO.replace(pidFile, text: "\(process.pid)\n")
            } catch { throw HostStepError(step: command.description, message: "\(error)") }
        case .terminate(let pidFile, let marker, let listPids, let drain):
            try await terminate(pidFile: pidFile, marker: marker, listPids: listPids, drain: drain)
        case .waitWhile(let command, let budget, let reason, let fix):
            try await waitWhile(command, budget: budget, reason: reason, fix: fix)
        case .remove(let path):
            do { try FileIO.removeTree(path) } catch { throw HostStepError(step: "rm -rf \(path)", message: "\(error)") }
        case .note:
            break
        }
    }
}
