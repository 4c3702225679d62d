import Foundation
import GradientDetection
import TensorBoardEvents

/// Scans runs: reads each run's files in name order (runs in parallel, on every core) and reports
/// per run.
///
/// ```swift
/// let runs = try RunDiscovery.runs(under: ["runs/"])
/// let result = await LogScanner(classifier: try TagClassifier(), configuration: DetectorConfiguration()).scan(runs: runs)
/// for report in result.reports { print(report.run, report.verdict) }
/// ```
public struct LogScanner: Sendable {
    public var classifier: TagClassifier
    public var configuration: DetectorConfiguration
    /// Parallel runs; defaults to the number of active cores.
    public var concurrency: Int = ProcessInfo.processInfo.activeProcessorCount

    public init(classifier: TagClassifier, configuration: DetectorConfiguration) {
        self.classifier = classifier
        self.configuration = configuration
    }

    public struct Result: Sendable {
        public var reports: [RunReport]
        public var seconds: Double
        public var files: Int { reports.reduce(0) { $0 + $1.files } }
        public var bytes: Int { reports.reduce(0) { $0 + $1.bytes } }
        public var readableFiles: Int { reports.reduce(0) { $0 + $1.readableFiles } }
    }

    /// Scans the runs, calling `progress` after each run with (done, total, bytes so far).
    public func scan(runs: [DiscoveredRun], progress: ((Int, Int, Int) -> Void)? = nil) async -> Result {
        let start = ContinuousClock.now
        let classifier = self.classifier
        let configuration = self.configuration
        var bytes = 0
        let reports = await mapConcurrently(runs, limit: concurrency, { run in
            Self.scan(run, classifier: classifier, configuration: configuration)
        }, done: { report, finished in
            bytes += report.bytes
            progress?(finished, runs.count, bytes)
        })
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return Result(reports: reports, seconds: seconds)
    }

    /// Reads one run's files in name order, split into streams (see `RunAnalyzer`).
    public static func scan(_ run: DiscoveredRun, classifier: TagClassifier, configuration: DetectorConfiguration) -> RunReport {
        let analyzer = RunAnalyzer(name: run.name, classifier: classifier, configuration: configuration)
        for file in run.files { analyzer.read(file) }
        return analyzer.finish()
    }
}
