// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "jailpilot",
    products: [
        .executable(name: "jailpilot", targets: ["jailpilot"]),
        .library(name: "JailPilot", targets: ["JailPilot"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.7.0")
    ],
    targets: [
        .systemLibrary(
            name: "CGit2",
            pkgConfig: "libgit2",
            providers: [.apt(["libgit2-dev"]), .brew(["libgit2"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),
        .target(name: "CSpawn"),
        // The library in three layers, each depending only on those below it (docs/DESIGN.md,
        // "Layers"): the model, config and store; the host's side effects and drivers; the
        // release engine and the agent, which re-exports the two below.
        .target(
            name: "JailPilotCore",
            dependencies: [
                "CSpawn",
                "CSQLite",
            ]
        ),
        .target(
            name: "JailPilotHost",
            dependencies: [
                "JailPilotCore",
                "CGit2",
                "CSpawn",
            ]
        ),
        .target(
            name: "JailPilot",
            dependencies: [
                "JailPilotCore",
                "JailPilotHost",
                "CSpawn",
            ]
        ),
        .executableTarget(
            name: "jailpilot",
            dependencies: [
                "JailPilot",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Benchmark driver for scripts/bench-*; not part of the agent binary.
        .executableTarget(
            name: "jailpilot-bench",
            dependencies: ["JailPilot"]
        ),
        // Crash-test driver for CrashTests: the agent with SIGKILL crash points; not shipped.
        .executableTarget(
            name: "jailpilot-crashtest",
            dependencies: ["JailPilot"]
        ),
        // In-memory drivers, fakes and a virtual clock for the state-machine tests; not shipped.
        .target(
            name: "JailPilotTesting",
            dependencies: ["JailPilot"]
        ),
        .testTarget(
            name: "JailPilotTests",
            dependencies: ["JailPilot", "JailPilotTesting"],
            exclude: ["Fixtures", "Golden"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
