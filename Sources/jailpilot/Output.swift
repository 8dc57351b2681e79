import JailPilot

/// Writes `message` and a newline to standard error.
func printError(_ message: String) {
    FileIO.writeStandardError(message + "\n")
}
