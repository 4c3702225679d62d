// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "gradalert",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "TensorBoardEvents", targets: ["TensorBoardEvents"]),
        .library(name: "GradientDetection", targets: ["GradientDetection"]),
        .library(name: "GradientHooks", targets: ["GradientHooks"]),
        .library(name: "GradAlertAnalysis", targets: ["GradAlertAnalysis"]),
        .library(name: "GradAlertLab", targets: ["GradAlertLab"]),
        .library(name: "MetricsEndpoint", targets: ["MetricsEndpoint"]),
        .executable(name: "gradalert", targets: ["gradalert"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // The metrics facade GradientMonitor reports through (no backend is forced on anyone).
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        // The Prometheus exposition format, and an HTTP server to serve it (watch --metrics-listen).
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // CRC-32C (Castagnoli) with SSE4.2 / ARMv8 CRC instructions chosen at run time and a portable
        // slicing-by-8 path. C because Swift has no per-function target attributes.
        .target(name: "CGradAlertCRC32C"),
        // The hot loop of gradient statistics: vector moments (AVX2 chosen at run time) and
        // TensorFlow histogram buckets, block by block. C for the same reason as the CRC.
        .target(name: "CGradAlertStats"),
        // The system zlib: deflate and crc32 for PNG image summaries, gzip for compressed logs.
        .systemLibrary(
            name: "CGradAlertZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        // The event-file format: wire encoding, TFRecord framing, the writer and the reader.
        .target(
            name: "TensorBoardEvents",
            dependencies: ["CGradAlertCRC32C", "CGradAlertZlib"],
            swiftSettings: swiftSettings
        ),
        // Streaming rules over (step, value) series, the step assembler both data paths share,
        // alerts, episodes, origin, remedies. No dependencies.
        .target(
            name: "GradientDetection",
            swiftSettings: swiftSettings
        ),
        // Parameter discovery, one-pass gradient statistics and histograms, clipping, GradientMonitor.
        .target(
            name: "GradientHooks",
            dependencies: [
                "TensorBoardEvents", "GradientDetection", "CGradAlertStats",
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // Serves a Prometheus registry over HTTP (/metrics, /healthz): for `gradalert watch
        // --metrics-listen`, and for a training program that wants Prometheus to scrape it.
        .target(
            name: "MetricsEndpoint",
            dependencies: [
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Log analysis over files: run discovery, streams, tag classification, run reports, the
        // log scanner and the follower that scan, watch and export share.
        .target(
            name: "GradAlertAnalysis",
            dependencies: ["TensorBoardEvents", "GradientDetection"],
            swiftSettings: swiftSettings
        ),
        // A small neural-network library with hand-written backpropagation, for the demo.
        .target(
            name: "GradAlertLab",
            dependencies: ["GradientHooks", "GradientDetection", "TensorBoardEvents"],
            swiftSettings: swiftSettings
        ),
        // The commands and their output formats. A library target (not a product) so that tests
        // run commands in-process.
        .target(
            name: "GradAlertCLI",
            dependencies: [
                "TensorBoardEvents",
                "GradientDetection",
                "GradAlertAnalysis",
                "GradAlertLab",
                "MetricsEndpoint",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "gradalert",
            dependencies: ["GradAlertCLI"],
            swiftSettings: swiftSettings
        ),
        // Writes a logdir with every record kind plus a manifest of what it wrote, for
        // Tools/compat/check_tensorboard.py (TensorBoard's own loaders) to verify.
        .executableTarget(
            name: "gradalert-compat-writer",
            dependencies: ["TensorBoardEvents", "GradAlertCLI", "GradientHooks", "GradAlertLab", "GradientDetection"],
            path: "Tools/compat/writer",
            swiftSettings: swiftSettings
        ),
        // Writes predictable records and reports each flush, for the crash and many-writer tests.
        .executableTarget(
            name: "gradalert-reliability-writer",
            dependencies: ["TensorBoardEvents"],
            path: "Tools/reliability/writer",
            swiftSettings: swiftSettings
        ),
        // Helpers the test targets share (an exact JSON parser for the fixtures; gzip made by zlib;
        // deterministic random numbers; temporary directories; synthetic runs).
        .target(
            name: "GradAlertTestSupport",
            dependencies: ["CGradAlertZlib", "TensorBoardEvents", "GradAlertLab"],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TensorBoardEventsTests",
            dependencies: ["TensorBoardEvents", "CGradAlertCRC32C", "GradAlertTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GradientDetectionTests",
            dependencies: ["GradientDetection", "GradAlertTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GradientHooksTests",
            dependencies: [
                "GradientHooks", "TensorBoardEvents", "GradientDetection", "GradAlertTestSupport",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GradAlertAnalysisTests",
            dependencies: [
                "GradAlertAnalysis", "GradientHooks", "GradAlertLab", "TensorBoardEvents", "GradientDetection",
                "GradAlertTestSupport",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GradAlertLabTests",
            dependencies: ["GradAlertLab", "GradientHooks", "TensorBoardEvents"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GradAlertCLITests",
            dependencies: [
                "GradAlertCLI", "GradAlertAnalysis", "TensorBoardEvents", "GradientDetection", "GradAlertTestSupport",
                "MetricsEndpoint",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
