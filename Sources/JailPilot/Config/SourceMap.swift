import Foundation

/// Finds the line of each table and key in TOML text, for error messages.
///
/// TOMLKit does not expose positions of parsed keys, so this scans the text: table headers
/// (`[a.b]`, `[apps."x"]`) and `key =` lines. It only locates; it never decides validity.
struct SourceMap {
    private var lines: [String: Int] = [:]

    init(text: String) {
        var table = ""
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") {
                let inner = line.drop { $0 == "[" }.prefix { $0 != "]" }
                table = Self.normalize(String(inner))
                if lines[table] == nil { lines[table] = index + 1 }
            } else if let eq = line.firstIndex(of: "="), !line.hasPrefix("#") {
                let key = Self.normalize(String(line[..<eq]))
                let full = table.isEmpty ? key : "\(table).\(key)"
                if lines[full] == nil { lines[full] = index + 1 }
            }
        }
    }

    /// The line of `key`, else of its nearest enclosing table.
    func line(of key: String) -> Int? {
        var parts = key.split(separator: ".").map(String.init)
        while !parts.isEmpty {
            if let line = lines[parts.joined(separator: ".")] { return line }
            parts.removeLast()
        }
        return nil
    }

    private static func normalize(_ key: String) -> String {
        key.split(separator: ".").map {
            $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
        }.joined(separator: ".")
    }
}
