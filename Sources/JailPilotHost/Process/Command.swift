import FoundationEssentials
import JailPilotCore

/// A host command as a value: what to run, with which arguments, environment and directory.
///
/// Commands are built by drivers, then run by a `ProcessRunning`, printed by `jailpilot plan`,
/// or compared in golden tests. Arguments are never joined into a shell string.
public struct Command: Sendable, Hashable, CustomStringConvertible {
    /// The program: an absolute path, or a name looked up in `environment["PATH"]`.
    public var executable: String
    /// The arguments after the program name.
    public var arguments: [String]
    /// The complete environment of the child; `nil` inherits the agent's.
    public var environment: [String: String]?
    /// The working directory of the child; `nil` keeps the agent's.
    public var workingDirectory: String?
    /// A file the child reads as its standard input; `nil` gives it /dev/null.
    public var input: String?

    public init(
        _ executable: String, _ arguments: [String] = [], environment: [String: String]? = nil,
        workingDirectory: String? = nil, input: String? = nil
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.input = input
    }

    /// The command line, shell-quoted for a human to read or paste.
    public var description: String {
        ([executable] + arguments).map(ShellQuote.quote).joined(separator: " ")
            + (input.map { " < " + ShellQuote.quote($0) } ?? "")
    }
}

/// Quotes words as POSIX shell text: for display, and into the start scripts the drivers
/// generate (`single`), never into a command line that is run through a shell.
public enum ShellQuote {
    private static let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_")

    /// Returns `word` unchanged when it is safe bare, else single-quoted.
    public static func quote(_ word: String) -> String {
        if !word.isEmpty && word.allSatisfy({ safe.contains($0) }) { return word }
        return single(word)
    }

    /// Always single-quoted: nothing in it is expanded by sh, whatever it holds.
    public static func single(_ word: String) -> String {
        "'" + word.replacing("'", with: "'\\''") + "'"
    }
}
