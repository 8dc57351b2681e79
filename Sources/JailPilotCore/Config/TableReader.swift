/// Collects config problems with their file and line.
final class IssueCollector {
    let file: String
    let map: SourceMap
    private(set) var issues: [ConfigIssue] = []

    init(file: String, map: SourceMap) {
        self.file = file
        self.map = map
    }

    func add(_ key: String, _ message: String) {
        issues.append(ConfigIssue(file: file, line: map.line(of: key), key: key, message: message))
    }
}

/// Reads typed values out of one TOML table, reporting wrong types and unknown keys.
struct TableReader {
    let table: TOMLTable
    /// Dotted path of this table, e.g. `apps.hello`.
    let path: String
    let issues: IssueCollector

    func key(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    private func typeProblem(_ name: String, _ expected: String, _ example: String) {
        issues.add(key(name), "must be \(expected), e.g. \(name) = \(example)")
    }

    func string(_ name: String, example: String) -> String? {
        guard let value = table[name] else { return nil }
        guard let s = value.string else {
            typeProblem(name, "a quoted string", example)
            return nil
        }
        return s
    }

    func int(_ name: String, example: String) -> Int? {
        guard let value = table[name] else { return nil }
        guard let n = value.int else {
            typeProblem(name, "a whole number", example)
            return nil
        }
        return n
    }

    func bool(_ name: String) -> Bool? {
        guard let value = table[name] else { return nil }
        guard let b = value.bool else {
            typeProblem(name, "true or false", "true")
            return nil
        }
        return b
    }

    /// A duration inside `range`; anything else is reported with the range and an example.
    func duration(_ name: String, example: String, range: ClosedRange<Duration>) -> Duration? {
        bounded(name, example: example, range: range, parse: DurationText.parse, format: DurationText.format) { text in
            let tooLong = !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isNumber || "smh".contains($0)) }
            return tooLong ? nil : "'\(text)' is not a duration; write e.g. \"\(example)\" (units: ms, s, m, h)"
        }
    }

    /// A size inside `range` ("256MiB"); anything else is reported with the range and an example.
    func size(_ name: String, example: String, range: ClosedRange<Int>) -> Int? {
        bounded(name, example: example, range: range, parse: ByteCount.parse, format: ByteCount.format) { text in
            "'\(text)' is not a size; write e.g. \"\(example)\" (units: KiB, MiB, GiB)"
        }
    }

    /// A string value parsed into `T` and checked against `range`. `unreadable` says why a text
    /// does not parse, or nil when it reads as a value too large to hold (then: out of range).
    private func bounded<T: Comparable>(
        _ name: String, example: String, range: ClosedRange<T>, parse: (String) -> T?, format: (T) -> String,
        unreadable: (String) -> String?
    ) -> T? {
        guard let text = string(name, example: "\"\(example)\"") else { return nil }
        let outOfRange =
            "'\(text)' is out of range; it must be between \(format(range.lowerBound)) and \(format(range.upperBound)), e.g. \"\(example)\""
        guard let value = parse(text) else {
            issues.add(key(name), unreadable(text) ?? outOfRange)
            return nil
        }
        guard range.contains(value) else {
            issues.add(key(name), outOfRange)
            return nil
        }
        return value
    }

    /// CPU cores as a whole or fractional number (`cpu = 1.5`), in thousandths, inside `range`.
    func millicores(_ name: String, example: String, range: ClosedRange<Int>) -> Int? {
        guard let value = table[name] else { return nil }
        let cores: Double
        switch value {
        case .int(let n): cores = Double(n)
        case .float(let f): cores = f
        default:
            typeProblem(name, "a number of CPU cores", example)
            return nil
        }
        guard cores.isFinite, cores * 1000 >= Double(range.lowerBound), cores * 1000 <= Double(range.upperBound) else {
            issues.add(
                key(name),
                "\(cores) is out of range; it must be between \(Double(range.lowerBound) / 1000) and \(range.upperBound / 1000) cores, e.g. \(example)"
            )
            return nil
        }
        return Int((cores * 1000).rounded())
    }

    /// `memory`, `cpu` and `disk` over `defaults`.
    func limits(over defaults: JailLimits) -> JailLimits {
        var limits = defaults
        limits.memory = size("memory", example: "512MiB", range: (16 << 20)...(1 << 40)) ?? limits.memory
        limits.millicores = millicores("cpu", example: "2", range: 10...1_024_000) ?? limits.millicores
        limits.disk = size("disk", example: "1GiB", range: (16 << 20)...(64 << 40)) ?? limits.disk
        return limits
    }

    func strings(_ name: String, example: String) -> [String]? {
        guard let value = table[name] else { return nil }
        guard let array = value.array else {
            typeProblem(name, "an array of strings", example)
            return nil
        }
        var out: [String] = []
        for element in array {
            guard let s = element.string else {
                typeProblem(name, "an array of strings", example)
                return nil
            }
            out.append(s)
        }
        return out
    }

    func stringTable(_ name: String, example: String) -> [String: String]? {
        guard let value = table[name] else { return nil }
        guard let sub = value.table else {
            typeProblem(name, "a table of strings", example)
            return nil
        }
        var out: [String: String] = [:]
        for k in sub.keys {
            guard let s = sub[k]?.string else {
                issues.add("\(key(name)).\(k)", "must be a quoted string")
                continue
            }
            out[k] = s
        }
        return out
    }

    /// An array of tables (`[[agent.notify]]`), each as a reader of its own.
    func tables(_ name: String, example: String) -> [TableReader]? {
        guard let value = table[name] else { return nil }
        guard let array = value.array, array.allSatisfy({ $0.table != nil }) else {
            typeProblem(name, "an array of tables", example)
            return nil
        }
        return array.enumerated().compactMap { index, element in
            element.table.map { TableReader(table: $0, path: "\(key(name))[\(index)]", issues: issues) }
        }
    }

    func subtable(_ name: String) -> TableReader? {
        guard let value = table[name] else { return nil }
        guard let sub = value.table else {
            issues.add(key(name), "must be a table: write [\(key(name))] on a line of its own")
            return nil
        }
        return TableReader(table: sub, path: key(name), issues: issues)
    }

    /// Reports every key not in `known`, suggesting the closest known one.
    func rejectUnknown(known: [String]) {
        for k in table.keys where !known.contains(k) {
            let guess = known.min { editDistance($0, k) < editDistance($1, k) }
            let hint = guess.flatMap { editDistance($0, k) <= 3 ? "; did you mean '\($0)'?" : nil }
            issues.add(key(k), "unknown key" + (hint ?? "; known keys here: " + known.joined(separator: ", ")))
        }
    }
}

/// Levenshtein distance, for "did you mean" hints on short keys.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a)
    let b = Array(b)
    if a.isEmpty { return b.count }
    var row = Array(0...b.count)
    for i in 1...a.count {
        var previous = row[0]
        row[0] = i
        for j in stride(from: 1, through: b.count, by: 1) {
            let old = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
            previous = old
        }
    }
    return row[b.count]
}
