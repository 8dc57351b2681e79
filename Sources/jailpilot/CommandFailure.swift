/// A command that could not do its work (the agent unreachable, a value it cannot use): said as
/// `Error: …` with exit status 1, without the usage block, which is for arguments that do not
/// parse (ValidationError, exit 64).
struct CommandFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) { self.description = description }
}
