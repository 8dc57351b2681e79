extension TOMLParser {
    /// One value; `path` names it for keys inside inline tables.
    mutating func value(path: [String]) throws -> TOMLValue {
        guard let c = peek() else { throw error("expected a value after '='") }
        switch c {
        case UInt8(ascii: "\""):
            return .string(peek(1) == c && peek(2) == c ? try multilineString(literal: false) : try basicString())
        case UInt8(ascii: "'"):
            return .string(peek(1) == c && peek(2) == c ? try multilineString(literal: true) : try literalString())
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            guard depth < Self.maxDepth else {
                throw error("arrays and inline tables nested more than \(Self.maxDepth) deep; agent.conf never needs that")
            }
            depth += 1
            defer { depth -= 1 }
            return c == UInt8(ascii: "[") ? try array(path: path) : try inlineTable(path: path)
        default:
            return try scalar()
        }
    }

    // MARK: Strings

    /// `"..."` with escapes, on one line.
    mutating func basicString() throws -> String {
        pos += 1
        var out: [UInt8] = []
        while true {
            guard let c = peek(), c != 0x0A, c != 0x0D else {
                throw error("unterminated string; strings end on the line they start (use \"\"\" for several lines)")
            }
            pos += 1
            if c == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
            if c == UInt8(ascii: "\\") {
                try escape(into: &out)
            } else {
                try checkControl(c)
                out.append(c)
            }
        }
    }

    /// `'...'`, taken as written, on one line.
    mutating func literalString() throws -> String {
        pos += 1
        let start = pos
        while true {
            guard let c = peek(), c != 0x0A, c != 0x0D else { throw error("unterminated string; close it with '") }
            if c == UInt8(ascii: "'") {
                pos += 1
                return String(decoding: bytes[start..<pos - 1], as: UTF8.self)
            }
            try checkControl(c)
            pos += 1
        }
    }

    /// `"""..."""` or `'''...'''`: a line break right after the opening is dropped; in the basic
    /// form a backslash at the end of a line joins it to the next non-blank text.
    mutating func multilineString(literal: Bool) throws -> String {
        let quote = literal ? UInt8(ascii: "'") : UInt8(ascii: "\"")
        pos += 3
        _ = newline()
        var out: [UInt8] = []
        while true {
            guard let c = peek() else { throw error("unterminated multi-line string") }
            if c == quote && peek(1) == quote && peek(2) == quote {
                // Up to two quotes may sit right before the closing three.
                var extra = 0
                while extra < 2 && peek(3 + extra) == quote { extra += 1 }
                out.append(contentsOf: repeatElement(quote, count: extra))
                pos += 3 + extra
                return String(decoding: out, as: UTF8.self)
            }
            if newline() {
                out.append(0x0A)
            } else if c == UInt8(ascii: "\\") && !literal {
                pos += 1
                if try !joinLines() { try escape(into: &out) }
            } else {
                try checkControl(c)
                out.append(c)
                pos += 1
            }
        }
    }

    /// After a backslash: if only spaces remain on the line, skips them and all blank space
    /// after it, returning true.
    private mutating func joinLines() throws -> Bool {
        var probe = pos
        while probe < bytes.count, bytes[probe] == 0x20 || bytes[probe] == 0x09 { probe += 1 }
        guard probe < bytes.count, bytes[probe] == 0x0A || bytes[probe] == 0x0D else { return false }
        pos = probe
        while true {
            skipSpaces()
            if !newline() { return true }
        }
    }

    private mutating func escape(into out: inout [UInt8]) throws {
        guard let c = peek() else { throw error("unterminated escape") }
        pos += 1
        let simple: [UInt8: UInt8] = [0x62: 0x08, 0x74: 0x09, 0x6E: 0x0A, 0x66: 0x0C, 0x72: 0x0D, 0x22: 0x22, 0x5C: 0x5C]
        if let byte = simple[c] {
            out.append(byte)
            return
        }
        let digits = c == UInt8(ascii: "u") ? 4 : c == UInt8(ascii: "U") ? 8 : 0
        guard digits > 0, pos + digits <= bytes.count, bytes[pos..<pos + digits].allSatisfy(\.isASCIIHexDigit),
            let code = UInt32(String(decoding: bytes[pos..<pos + digits], as: UTF8.self), radix: 16),
            let scalar = Unicode.Scalar(code)
        else {
            pos -= 1
            throw error("invalid escape '\\\(Self.show(c))'; write \\\\ for a backslash")
        }
        pos += digits
        out.append(contentsOf: Array(String(Character(scalar)).utf8))
    }

    private func checkControl(_ c: UInt8) throws {
        guard c == 0x09 || (c >= 0x20 && c != 0x7F) else { throw error("control character in a string; escape it") }
    }

    // MARK: Arrays and inline tables

    private mutating func array(path: [String]) throws -> TOMLValue {
        pos += 1
        var items: [TOMLValue] = []
        while true {
            try skipBlank()
            if peek() == UInt8(ascii: "]") {
                pos += 1
                return .array(TOMLArray(items))
            }
            items.append(try value(path: path))
            try skipBlank()
            if peek() == UInt8(ascii: ",") {
                pos += 1
            } else if peek() != UInt8(ascii: "]") {
                throw error("expected ',' or ']' in the array, found '\(Self.show(peek()))'")
            }
        }
    }

    /// Spaces, comments and line breaks, as allowed between array elements.
    private mutating func skipBlank() throws {
        while true {
            skipSpaces()
            try skipComment()
            if !newline() { return }
        }
    }

    private mutating func inlineTable(path: [String]) throws -> TOMLValue {
        pos += 1
        let table = TOMLTable(origin: .inline)
        skipSpaces()
        if peek() == UInt8(ascii: "}") {
            pos += 1
            return .table(table)
        }
        while true {
            let keyLine = line
            let key = try key()
            skipSpaces()
            try expect("=", "expected '=' after the key '\(key.joined(separator: "."))'")
            skipSpaces()
            try insert(try value(path: path + key), at: key, into: table, prefix: path, line: keyLine)
            skipSpaces()
            if peek() == UInt8(ascii: "}") {
                pos += 1
                return .table(table)
            }
            try expect(",", "expected ',' or '}' in the inline table (it must stay on one line)")
        }
    }

    // MARK: Scalars

    /// true, false, a number, or a date/time.
    private mutating func scalar() throws -> TOMLValue {
        let start = pos
        while let c = peek(), Self.isBareKey(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: ".") || c == UInt8(ascii: ":") {
            pos += 1
        }
        // A date-time may separate the date and the time with a space.
        if peek() == 0x20, let next = peek(1), next >= 0x30 && next <= 0x39, Self.isDate(bytes[start..<pos]) {
            pos += 1
            while let c = peek(), Self.isBareKey(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: ".") || c == UInt8(ascii: ":")
            {
                pos += 1
            }
        }
        let token = String(decoding: bytes[start..<pos], as: UTF8.self)
        if token == "true" { return .bool(true) }
        if token == "false" { return .bool(false) }
        if let n = Self.integer(token) { return .int(n) }
        if let d = Self.float(token) { return .float(d) }
        if Self.isDate(bytes[start..<pos]) || Self.isTime(bytes[start..<pos]) {
            if let problem = Self.dateTimeProblem(Array(bytes[start..<pos])) {
                pos = start
                throw error("'\(token)' is not a valid date or time: \(problem)")
            }
            return .datetime(token)
        }
        pos = start
        let shown = token.isEmpty ? Self.show(peek()) : token
        throw error("'\(shown)' is not a value; quote text, e.g. \"\(shown)\"")
    }

    static func integer(_ token: String) -> Int? {
        var body = Substring(token)
        let radix: Int
        switch body.prefix(2) {
        case "0x": radix = 16
        case "0o": radix = 8
        case "0b": radix = 2
        default: radix = 10
        }
        if radix != 10 {
            body = body.dropFirst(2)
            // No sign after the prefix (`0x-1`, `0b+1`): the digits alone.
            guard body.allSatisfy({ $0 == "_" || $0.isHexDigit }) else { return nil }
        } else if body.first == "+" || body.first == "-" {
            guard body.dropFirst().first?.isNumber == true else { return nil }
            if body.dropFirst().count > 1 && body.dropFirst().first == "0" { return nil }
        } else if body.count > 1 && body.first == "0" {
            return nil  // no leading zeros
        }
        guard digitsWithUnderscores(body.drop { $0 == "+" || $0 == "-" }) else { return nil }
        return Int(String(body.filter { $0 != "_" }), radix: radix)
    }

    static func float(_ token: String) -> Double? {
        let unsigned = token.drop { $0 == "+" || $0 == "-" }
        if unsigned == "inf" { return token.hasPrefix("-") ? -.infinity : .infinity }
        if unsigned == "nan" { return .nan }
        guard token.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else { return nil }
        let parts = unsigned.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "." || $0 == "e" || $0 == "E" })
        for part in parts {
            guard digitsWithUnderscores(part.drop { $0 == "+" || $0 == "-" }) else { return nil }
        }
        if unsigned.count > 1, unsigned.first == "0", unsigned.dropFirst().first?.isNumber == true { return nil }
        return Double(String(token.filter { $0 != "_" }))
    }

    /// Hex digits with single underscores only between them.
    private static func digitsWithUnderscores(_ s: Substring) -> Bool {
        guard let first = s.first, let last = s.last, first.isHexDigit, last.isHexDigit else { return false }
        return !s.contains("__") && s.allSatisfy { $0.isHexDigit || $0 == "_" }
    }

    private static func isDate(_ b: ArraySlice<UInt8>) -> Bool {
        let b = Array(b)
        let digit = { (i: Int) in i < b.count && b[i] >= 0x30 && b[i] <= 0x39 }
        return b.count >= 10 && (0..<4).allSatisfy(digit) && b[4] == 0x2D && digit(5) && digit(6) && b[7] == 0x2D && digit(8)
            && digit(9)
    }

    private static func isTime(_ b: ArraySlice<UInt8>) -> Bool {
        let b = Array(b)
        let digit = { (i: Int) in i < b.count && b[i] >= 0x30 && b[i] <= 0x39 }
        return b.count >= 8 && digit(0) && digit(1) && b[2] == 0x3A && digit(3) && digit(4) && b[5] == 0x3A && digit(6)
            && digit(7)
    }
}
