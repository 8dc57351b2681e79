/// A parsed TOML value. agent.conf is TOML; jailpilot reads it with its own small parser so the
/// agent needs neither a C++ runtime nor full Foundation (see docs/DESIGN.md, "Memory").
public enum TOMLValue {
    case string(String)
    case int(Int)
    case float(Double)
    case bool(Bool)
    /// A date, time or date-time, kept as written (no agent.conf key takes one).
    case datetime(String)
    case array(TOMLArray)
    case table(TOMLTable)

    /// The string, or nil for any other type.
    public var string: String? { if case .string(let s) = self { s } else { nil } }
    /// The integer, or nil for any other type.
    public var int: Int? { if case .int(let n) = self { n } else { nil } }
    /// The boolean, or nil for any other type.
    public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    /// The array's elements, or nil for any other type.
    public var array: [TOMLValue]? { if case .array(let a) = self { a.items } else { nil } }
    /// The table, or nil for any other type.
    public var table: TOMLTable? { if case .table(let t) = self { t } else { nil } }

    /// The type's name for error messages.
    var typeName: String {
        switch self {
        case .string: "a string"
        case .int: "an integer"
        case .float: "a float"
        case .bool: "a boolean"
        case .datetime: "a date-time"
        case .array(let a): a.ofTables ? "an array of tables" : "an array"
        case .table: "a table"
        }
    }
}

/// A TOML array; `[[name]]` headers append tables to one.
public final class TOMLArray {
    public internal(set) var items: [TOMLValue]
    /// Made by `[[name]]` headers (so more may be appended), not written as `[...]`.
    let ofTables: Bool

    init(_ items: [TOMLValue], ofTables: Bool = false) {
        self.items = items
        self.ofTables = ofTables
    }
}

/// A TOML table: keys in the order written.
public final class TOMLTable {
    /// How the table came to be, which decides what may still be added to it.
    enum Origin {
        /// Named on the way to a deeper header or dotted key; may still get its own header.
        case implicit
        /// Opened by its own `[name]` header.
        case header
        /// Made by a dotted key such as `a.b = 1`.
        case dotted
        /// Written inline as `{ ... }`; closed to additions.
        case inline
    }

    private var entries: [String: TOMLValue] = [:]
    /// The keys in the order they were written.
    public private(set) var keys: [String] = []
    var origin: Origin

    /// An empty table.
    public init() { origin = .implicit }

    init(origin: Origin) { self.origin = origin }

    /// The value at `key`, if any.
    public subscript(key: String) -> TOMLValue? { entries[key] }

    func set(_ key: String, _ value: TOMLValue) {
        if entries.updateValue(value, forKey: key) == nil { keys.append(key) }
    }
}

/// A TOML syntax or structure error at a line and column (both from 1).
public struct TOMLSyntaxError: Error, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String
    public var description: String { "line \(line), column \(column): \(message)" }
}

/// A parsed document: the root table and the line of every key and table header, by dotted path.
public struct TOMLDocument {
    public var root: TOMLTable
    public var lines: [String: Int]

    /// Parses `text`, or throws the first `TOMLSyntaxError`.
    public init(parsing text: String) throws {
        try self.init(parsingBytes: Array(text.utf8))
    }

    /// Parses raw file bytes, which must be strict UTF-8, or throws the first `TOMLSyntaxError`.
    public init(parsingBytes bytes: [UInt8]) throws {
        var parser = TOMLParser(bytes)
        try parser.parse()
        root = parser.root
        lines = parser.lines
    }
}
