// swift-tools-version: 6.1
// libFuzzer harness over the event-file reader, the Event decoder and the scan analysis, in its
// own package so the main build never needs the fuzzer runtime. Run it with Tools/fuzz/run.sh.
import PackageDescription

let package = Package(
    name: "gradalert-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "gradalert", path: "../..")],
    targets: [
        .executableTarget(
            name: "EventReaderFuzzer",
            dependencies: [
                .product(name: "TensorBoardEvents", package: "gradalert"),
                .product(name: "GradAlertAnalysis", package: "gradalert"),
                .product(name: "GradientDetection", package: "gradalert"),
            ]
        )
    ]
)
