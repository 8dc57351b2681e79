import Glibc

/// A file only root may change, that the agent trusts: secrets (`env_files`, which nobody else
/// may read either) and trust anchors (`allowed_signers`, `keyring`, which decide what may run).
public enum RootOwnedFile {
    /// What the file is for, which decides who else may read it.
    package enum Use {
        /// Secrets: root's alone (no access at all for group or others).
        case secret
        /// Keys that decide what may be deployed: anyone may read them, only root may change them.
        case trust
        /// A file installed into an app's releases (`files`): only root may change it; who may
        /// read it on the host decides who may in the jail.
        case config
    }

    /// Why a file may not be used, and the command that makes it usable (when there is one).
    public struct Problem: Sendable, Equatable {
        /// What is wrong with it.
        public var text: String
        /// The command or change that makes it usable.
        public var fix: String?
        /// "<text>; <fix>", as error messages say it.
        public var sentence: String { fix.map { "\(text); \($0)" } ?? text }
    }

    /// Why `path` may not be used for `use`, nil when it may; with its size. It must be a
    /// regular file (a symlink is refused too, as its target may be swapped), owned by root, and
    /// neither group- nor world-writable (secrets: not accessible to them at all).
    package static func check(_ path: String, for use: Use) -> (size: Int, problem: Problem?) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            return (0, Problem(text: "cannot read it: \(String(cString: strerror(errno)))"))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            return (0, Problem(text: "is not a regular file (a symlink is refused too)"))
        }
        let size = Int(info.st_size)
        let mode = String(info.st_mode & 0o777, radix: 8)
        switch use {
        case .secret where info.st_uid != 0 || info.st_mode & 0o077 != 0:
            return (
                size,
                Problem(
                    text: "holds secrets but is mode \(mode) owned by uid \(info.st_uid)",
                    fix: "make it root's alone: chown root \(path) && chmod 600 \(path)")
            )
        case .trust where info.st_uid != 0 || info.st_mode & 0o022 != 0:
            return (
                size,
                Problem(
                    text: "decides which commits may be deployed but is mode \(mode) owned by uid \(info.st_uid)",
                    fix: "only root may change it: chown root \(path) && chmod go-w \(path)")
            )
        case .config where info.st_uid != 0 || info.st_mode & 0o022 != 0:
            return (
                size,
                Problem(
                    text: "goes into the app's releases but is mode \(mode) owned by uid \(info.st_uid)",
                    fix: "only root may change it: chown root \(path) && chmod go-w \(path)")
            )
        default:
            return (size, nil)
        }
    }
}
