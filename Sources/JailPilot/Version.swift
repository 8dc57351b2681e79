public enum JailPilotVersion { public static let current = "0.1.0" }
