import CSpawn

/// The version `jailpilot --version` prints, with the commit the binary was built from.
public enum JailPilotVersion {
    public static let current = "0.1.0"

    /// The commit given at build time (`-Xcc -DJAILPILOT_COMMIT=<hex>`), nil for a development build.
    public static var commit: String? {
        let text = String(cString: jp_build_commit())
        return text.isEmpty ? nil : text
    }

    /// "0.1.0 (commit 3f2c1e0a9b7d)", or a note that the build did not name its commit.
    public static var description: String { describe(version: current, commit: commit) }

    static func describe(version: String, commit: String?) -> String {
        guard let commit, !commit.isEmpty, commit.allSatisfy(\.isHexDigit) else {
            return "\(version) (commit unknown: built without -Xcc -DJAILPILOT_COMMIT=<hex>; see docs/FREEBSD.md)"
        }
        return "\(version) (commit \(commit))"
    }
}

/// Test access to the version line's format.
public enum JailPilotVersionProbe {
    public static func describe(version: String, commit: String?) -> String {
        JailPilotVersion.describe(version: version, commit: commit)
    }
}
