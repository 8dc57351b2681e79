/// A TOML 1.0 parser over UTF-8 bytes: tables, arrays of tables, dotted and quoted keys, all
/// string forms, integers, floats, booleans, dates (kept as text), arrays and inline tables.
/// Redefining a key or table is an error, as the spec says.
struct TOMLParser {
    let bytes: [UInt8]
    var pos = 0
    var line = 1
    var lineStart = 0
    let root = TOMLTable(origin: .header)
    var lines: [String: Int] = [:]
    private var current: TOMLTable
    private var currentPath: [String] = []
    /// How many arrays and inline tables enclose the value being read.
    var depth = 0
    /// Deepest nesting of arrays and inline tables, and most parts of a dotted key, accepted.
    /// toml-test suggests 128-256; agent.conf needs 3. It bounds the parser's stack and keeps
    /// dotted-key handling linear, so no input can crash or stall the agent.
    static let maxDepth = 128

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        current = root
    }

    mutating func parse() throws {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { pos = 3 }  // a byte-order mark
        lineStart = pos
        try validateUTF8()
        while true {
            skipSpaces()
            guard let c = peek() else { return }
            if c == UInt8(ascii: "#") || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") {
                try endOfLine()
                continue
            }
            if c == UInt8(ascii: "[") {
                try header()
            } else {
                let keyLine = line
                let path = try key()
                skipSpaces()
                try expect("=", "expected '=' after the key '\(path.joined(separator: "."))'")
                skipSpaces()
                let value = try value(path: currentPath + path)
                try insert(value, at: path, into: current, prefix: currentPath, line: keyLine)
            }
            try endOfLine()
        }
    }

    // MARK: Tables

    private mutating func header() throws {
        let headerLine = line
        pos += 1
        let isArray = peek() == UInt8(ascii: "[")
        if isArray { pos += 1 }
        skipSpaces()
        let path = try key()
        skipSpaces()
        try expect("]", "expected ']' to close the table header")
        if isArray { try expect("]", "expected ']]' to close the array-of-tables header") }
        var table = root
        for (index, name) in path.dropLast().enumerated() {
            table = try descend(table, name, path: Array(path[...index]), line: headerLine, origin: .implicit)
        }
        let last = path[path.count - 1]
        let name = path.joined(separator: ".")
        if isArray {
            let element = TOMLTable(origin: .header)
            switch table[last] {
            case nil: table.set(last, .array(TOMLArray([.table(element)], ofTables: true)))
            case .array(let array) where array.ofTables: array.items.append(.table(element))
            case let existing?: throw error("[[\(name)]] cannot append: '\(name)' is already \(existing.typeName)")
            }
            current = element
        } else {
            switch table[last] {
            case nil:
                let created = TOMLTable(origin: .header)
                table.set(last, .table(created))
                current = created
            case .table(let existing) where existing.origin == .implicit:
                existing.origin = .header
                current = existing
            case let existing?:
                let first = lines[name].map { " (first on line \($0))" } ?? ""
                let what =
                    existing.table != nil ? "the table [\(name)] is defined twice" : "'\(name)' is already \(existing.typeName)"
                throw error(what + first)
            }
        }
        currentPath = path
        if lines[name] == nil { lines[name] = headerLine }
    }

    /// The table at `table[name]`, created when missing; for an array of tables, its last one.
    private mutating func descend(
        _ table: TOMLTable, _ name: String, path: [String], line: Int, origin: TOMLTable.Origin
    ) throws -> TOMLTable {
        switch table[name] {
        case nil:
            let created = TOMLTable(origin: origin)
            table.set(name, .table(created))
            let full = path.joined(separator: ".")
            if lines[full] == nil { lines[full] = line }
            return created
        case .table(let existing) where existing.origin != .inline:
            if origin == .dotted && existing.origin == .header {
                throw error("'\(path.joined(separator: "."))' is a table with its own header; add keys under that header")
            }
            return existing
        case .array(let array) where array.ofTables:
            if origin == .dotted { throw error("'\(path.joined(separator: "."))' is an array of tables") }
            guard case .table(let last)? = array.items.last else { throw error("empty array of tables") }
            return last
        case let existing?:
            throw error("'\(path.joined(separator: "."))' is already \(existing.typeName), not a table")
        }
    }

    /// Stores `value` at the dotted `path` under `table`, refusing to redefine a key.
    mutating func insert(_ value: TOMLValue, at path: [String], into table: TOMLTable, prefix: [String], line: Int) throws {
        var target = table
        for (index, name) in path.dropLast().enumerated() {
            target = try descend(target, name, path: prefix + path[...index], line: line, origin: .dotted)
        }
        let full = (prefix + path).joined(separator: ".")
        if target[path[path.count - 1]] != nil {
            let first = lines[full].map { " (first on line \($0))" } ?? ""
            throw TOMLSyntaxError(line: line, column: 1, message: "the key '\(full)' is defined twice" + first)
        }
        target.set(path[path.count - 1], value)
        lines[full] = line
    }

    // MARK: Keys

    /// A possibly dotted key: `name`, `"quoted name"`, `a.b.'c'`.
    mutating func key() throws -> [String] {
        var parts: [String] = []
        while true {
            skipSpaces()
            switch peek() {
            case UInt8(ascii: "\""): parts.append(try basicString())
            case UInt8(ascii: "'"): parts.append(try literalString())
            default:
                let start = pos
                while let c = peek(), Self.isBareKey(c) { pos += 1 }
                guard pos > start else {
                    throw error("expected a key (letters, digits, '_' and '-', or a quoted string)")
                }
                parts.append(String(decoding: bytes[start..<pos], as: UTF8.self))
            }
            skipSpaces()
            guard peek() == UInt8(ascii: ".") else { return parts }
            guard parts.count < Self.maxDepth else {
                throw error("a dotted key of more than \(Self.maxDepth) parts; agent.conf never needs that many")
            }
            pos += 1
        }
    }

    static func isBareKey(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2D
    }

    // MARK: Scanning

    func peek(_ offset: Int = 0) -> UInt8? { pos + offset < bytes.count ? bytes[pos + offset] : nil }

    mutating func skipSpaces() {
        while let c = peek(), c == 0x20 || c == 0x09 { pos += 1 }
    }

    /// Spaces, an optional comment, then a line break or the end of the text.
    mutating func endOfLine() throws {
        skipSpaces()
        try skipComment()
        guard peek() != nil else { return }
        guard newline() else { throw error("expected the end of the line, found '\(Self.show(peek()))'") }
    }

    /// A `#` comment up to (not including) the line break; control characters other than tab
    /// are not allowed in it.
    mutating func skipComment() throws {
        guard peek() == UInt8(ascii: "#") else { return }
        while let c = peek(), c != 0x0A {
            if c == 0x0D && peek(1) == 0x0A { break }
            guard c == 0x09 || c >= 0x20, c != 0x7F else { throw error("control character in a comment") }
            pos += 1
        }
    }

    /// Refuses text that is not strict UTF-8 (TOML documents must be), naming where it breaks:
    /// no overlong forms, no surrogates, nothing above U+10FFFF, no truncated sequences.
    mutating func validateUTF8() throws {
        var i = pos
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x0A { line += 1; lineStart = i + 1 }
            if b < 0x80 { i += 1; continue }
            let count: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch b {
            case 0xC2...0xDF: count = 1
            case 0xE0: count = 2; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: count = 2
            case 0xED: count = 2; high = 0x9F
            case 0xF0: count = 3; low = 0x90
            case 0xF1...0xF3: count = 3
            case 0xF4: count = 3; high = 0x8F
            default: count = 0
            }
            var valid = count > 0 && i + count < bytes.count
            if valid {
                for k in 1...count {
                    let c = bytes[i + k]
                    let (lo, hi) = k == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
                    if c < lo || c > hi { valid = false; break }
                }
            }
            guard valid else {
                pos = i
                throw error("the file is not valid UTF-8 (byte 0x\(String(b, radix: 16)) at offset \(i)); save it as UTF-8")
            }
            i += count + 1
        }
        line = 1
        lineStart = pos
    }

    /// Consumes one line break (LF or CRLF), counting lines.
    mutating func newline() -> Bool {
        if peek() == 0x0A {
            pos += 1
        } else if peek() == 0x0D && peek(1) == 0x0A {
            pos += 2
        } else {
            return false
        }
        line += 1
        lineStart = pos
        return true
    }

    mutating func expect(_ char: Unicode.Scalar, _ message: String) throws {
        guard peek() == UInt8(ascii: char) else { throw error(message) }
        pos += 1
    }

    func error(_ message: String) -> TOMLSyntaxError {
        let column = String(decoding: bytes[lineStart..<min(pos, bytes.count)], as: UTF8.self).count + 1
        return TOMLSyntaxError(line: line, column: column, message: message)
    }

    static func show(_ c: UInt8?) -> String {
        guard let c else { return "end of file" }
        return c >= 0x20 && c < 0x7F ? String(UnicodeScalar(c)) : "\\u{\(String(c, radix: 16))}"
    }
}
