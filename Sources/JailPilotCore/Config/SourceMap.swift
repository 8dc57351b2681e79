/// The line of each table and key in agent.conf, for error messages.
struct SourceMap {
    private var lines: [String: Int]

    /// Lines by dotted key path, as the TOML parser recorded them.
    init(lines: [String: Int]) { self.lines = lines }

    /// The line of `key`, else of its nearest enclosing table.
    func line(of key: String) -> Int? {
        var parts = key.split(separator: ".").map(String.init)
        while !parts.isEmpty {
            if let line = lines[parts.joined(separator: ".")] { return line }
            parts.removeLast()
        }
        return nil
    }
}
