import GradientDetection
import TensorBoardEvents

/// Follows a log directory while training writes it — new runs, new files, growing files — and
/// reports what each poll finds, with the same analysis `scan` runs (`RunAnalyzer`), so a finished
/// logdir gives the alerts `scan` gives.
///
/// ```swift
/// let follower = LogFollower(logdir: "runs/", classifier: try TagClassifier(), configuration: DetectorConfiguration())
/// while true {
///     for finding in follower.poll().alerts { print(finding.run, finding.alert.alert.message) }
///     try await Task.sleep(for: .seconds(2))
/// }
/// ```
public final class LogFollower {
    public let logdir: String
    private let classifier: TagClassifier
    private let configuration: DetectorConfiguration

    private struct FollowedRun {
        let analyzer: RunAnalyzer
        /// Per stream, how many of its alerts have been reported.
        var reportedAlerts: [Int] = []
        /// How many of its diagnostics have been reported.
        var reportedDiagnostics = 0
    }

    private var runs: [String: FollowedRun] = [:]

    /// An alert a poll found, and its run.
    public struct Finding: Sendable {
        public var run: String
        public var alert: RunAlert
    }

    public init(logdir: String, classifier: TagClassifier, configuration: DetectorConfiguration) {
        self.logdir = logdir
        self.classifier = classifier
        self.configuration = configuration
    }

    /// Reads whatever is new and returns the alerts raised, and the new diagnostics (a truncated
    /// tail is normal while a writer is writing, so it is not reported).
    public func poll() -> (alerts: [Finding], diagnostics: [RecordDiagnostic]) {
        var findings: [Finding] = []
        var diagnostics: [RecordDiagnostic] = []
        let found = (try? RunDiscovery.runs(under: [logdir])) ?? []
        for run in found {
            var followed = runs[run.name]
                ?? FollowedRun(analyzer: RunAnalyzer(name: run.name, classifier: classifier, configuration: configuration))
            for file in run.files { followed.analyzer.read(file) }
            followed.analyzer.completeQuietStreams()
            for stream in 0..<followed.analyzer.streamCount {
                if stream == followed.reportedAlerts.count { followed.reportedAlerts.append(0) }
                findings += followed.analyzer.alerts(of: stream, from: followed.reportedAlerts[stream]).map { Finding(run: run.name, alert: $0) }
                followed.reportedAlerts[stream] = followed.analyzer.alertCount(of: stream)
            }
            let all = followed.analyzer.diagnostics
            diagnostics += all[followed.reportedDiagnostics...].filter { $0.problem != .truncated }
            followed.reportedDiagnostics = all.count
            runs[run.name] = followed
        }
        return (findings, diagnostics)
    }

    /// How many concurrent writers each run has shown so far (1 for most runs).
    public var streamCounts: [String: Int] { runs.mapValues { max(1, $0.analyzer.streamCount) } }

    /// Runs known so far.
    public var runNames: [String] { runs.keys.sorted() }

    /// Each followed run as it looks now.
    public func reports() -> [RunReport] { runNames.map { runs[$0]!.analyzer.report() } }
}
