import FoundationEssentials

/// Cuts an app's secret values out of what it printed (a failed release's log lines), in the
/// forms an app prints them: the value, each line of a multi-line one (a PEM key), escaped in a
/// string literal (JSON, Go, Python, C: `\"`, `\\`, `\/`, `\n`, `\uXXXX`, `\xHH`, whichever
/// characters the encoder chose to escape), percent-encoded (any case, `+` for space or not),
/// one inside the other, in base64 (standard or URL alphabet, at any offset in a longer run,
/// as in a Basic authorization) and in hex.
///
/// The text is decoded into views that remember where each byte came from; a value found in
/// any view cuts the original bytes it came from. A secret printed in another form (hashed,
/// split, a prefix of it) is not found: that is why log lines go only to receivers that ask
/// for them over a confidential channel (NotifyTarget.logTail).
public struct SecretRedactor: Sendable {
    /// What a cut value is replaced with.
    public static let placeholder = "[redacted]"
    /// The shortest value, or line of a multi-line value, that is cut: shorter ones would cut
    /// ordinary words out of every line.
    public static let shortest = 3
    /// The shortest value whose base64 and hex forms are looked for (the part of its base64
    /// that no neighbouring byte changes is then 6 characters or more).
    public static let shortestEncoded = 6

    /// Byte strings cut wherever a view holds them.
    let needles: [[UInt8]]
    /// Base64 of a value, the characters only its bytes decide: a match cuts its whole run.
    let base64: [[UInt8]]
    /// For each byte, the needles (then the base64 forms, as `needles.count + i`) that start
    /// with it: each byte of a view is compared with those only.
    let starting: [[Int]]

    /// A redactor of `values` (an app's environment: AppEnvironment.values).
    public init(values: [String]) {
        var needles = Set<[UInt8]>()
        var base64 = Set<[UInt8]>()
        for value in values {
            let bytes = Array(value.utf8)
            let lines = value.split(omittingEmptySubsequences: true) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
            for piece in [Substring(value)] + (lines.count > 1 ? lines : []) where piece.utf8.count >= Self.shortest {
                needles.insert(Array(piece.utf8))
                let trimmed = piece.trimmedWhitespace
                if trimmed.utf8.count >= Self.shortest { needles.insert(Array(trimmed.utf8)) }
            }
            guard bytes.count >= Self.shortestEncoded else { continue }
            let hex = bytes.map { String.hex(UInt64($0), width: 2) }.joined()
            needles.insert(Array(hex.utf8))
            needles.insert(Array(hex.uppercased().utf8))
            base64.formUnion(Self.base64Cores(bytes))
        }
        self.needles = needles.sorted { $0.lexicographicallyPrecedes($1) }
        self.base64 = base64.sorted { $0.lexicographicallyPrecedes($1) }
        var starting = [[Int]](repeating: [], count: 256)
        for (index, form) in (self.needles + self.base64).enumerated() { starting[Int(form[0])].append(index) }
        self.starting = starting
    }

    /// Whether there is anything to cut.
    public var isEmpty: Bool { needles.isEmpty && base64.isEmpty }

    /// `text` with every value found replaced by `placeholder`.
    public func redact(_ text: String) -> String {
        guard !isEmpty else { return text }
        let raw = View(Array(text.utf8))
        var views = [raw]
        for view in [raw.unescaped(), raw.percentDecoded(plus: false), raw.percentDecoded(plus: true)] {
            guard let view else { continue }
            views.append(view)
            if let inner = view.unescaped() { views.append(inner) }
            if let inner = view.percentDecoded(plus: false) { views.append(inner) }
        }
        var cuts: [Range<Int>] = []
        for view in views {
            for start in view.bytes.indices {
                for index in starting[Int(view.bytes[start])] {
                    let form = index < needles.count ? needles[index] : base64[index - needles.count]
                    guard view.holds(form, at: start) else { continue }
                    let match = start..<(start + form.count)
                    cuts.append(view.origin(of: index < needles.count ? match : view.base64Run(around: match)))
                }
            }
        }
        guard !cuts.isEmpty else { return text }
        var out: [UInt8] = []
        var at = 0
        for cut in Self.merged(cuts) {
            out += raw.bytes[at..<cut.lowerBound]
            out += Array(Self.placeholder.utf8)
            at = cut.upperBound
        }
        out += raw.bytes[at...]
        return String(decoding: out, as: UTF8.self)
    }

    /// Ranges that overlap or touch, as one each; sorted.
    static func merged(_ ranges: [Range<Int>]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = out.last, range.lowerBound <= last.upperBound {
                out[out.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                out.append(range)
            }
        }
        return out
    }

    /// The base64 characters of `bytes` that do not depend on the bytes around them, for each
    /// of the three offsets `bytes` can start at in a longer input, in both alphabets.
    static func base64Cores(_ bytes: [UInt8]) -> Set<[UInt8]> {
        var cores = Set<[UInt8]>()
        for shift in 0..<3 {
            let encoded = Array(Data([UInt8](repeating: 0, count: shift) + bytes).base64EncodedString().utf8)
            // Character i holds bits 6i..<6i+6; the value's are 8·shift..<8·(shift+count).
            let first = (8 * shift + 5) / 6
            let end = (8 * (shift + bytes.count)) / 6
            guard end - first >= 6 else { continue }
            let core = Array(encoded[first..<end])
            cores.insert(core)
            cores.insert(
                core.map { $0 == UInt8(ascii: "+") ? UInt8(ascii: "-") : $0 == UInt8(ascii: "/") ? UInt8(ascii: "_") : $0 })
        }
        return cores
    }
}
