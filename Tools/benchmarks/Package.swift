// swift-tools-version: 6.1
// Benchmarks live in their own package so the main build and CI never pay for building
// ordo-one/benchmark. Run them with Tools/benchmarks/run.sh (see docs/benchmarks.md).
import PackageDescription

let package = Package(
    name: "gradalert-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "gradalert", path: "../.."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "EventsBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "TensorBoardEvents", package: "gradalert"),
                "BenchSupport",
            ],
            path: "Benchmarks/EventsBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "HooksBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "GradientHooks", package: "gradalert"),
                "BenchSupport",
            ],
            path: "Benchmarks/HooksBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The decoding read that both the benchmark and read-logdir time; the CPU line every
        // benchmark process prints.
        .target(
            name: "BenchSupport",
            dependencies: [.product(name: "TensorBoardEvents", package: "gradalert")],
            path: "Sources/BenchSupport"
        ),
        // Times decoding reads of a logdir for interleaved.py, between launches of the data server.
        .executableTarget(
            name: "read-logdir",
            dependencies: ["BenchSupport", .product(name: "TensorBoardEvents", package: "gradalert")],
            path: "Sources/ReadLogdir"
        ),
        // Writes the fleet-shaped logdir (1,000 runs x 4 ranks) the watch benchmark follows.
        .executableTarget(
            name: "bench-fleet",
            dependencies: [.product(name: "TensorBoardEvents", package: "gradalert")],
            path: "Sources/BenchFleet"
        ),
        // Writes the ~200 MB logdir the reader benchmarks and the peers read.
        .executableTarget(
            name: "bench-logdir",
            dependencies: [.product(name: "TensorBoardEvents", package: "gradalert")],
            path: "Sources/BenchLogdir"
        ),
    ]
)
