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
        /// Per stream, how many of its alerts and incident events have been reported.
        var reportedAlerts: [Int] = []
        var reportedEvents: [Int] = []
        /// How many of its diagnostics have been reported.
        var reportedDiagnostics = 0
    }

    private var runs: [String: FollowedRun] = [:]

    /// An alert a poll found, and its run.
    public struct Finding: Sendable {
        public var run: String
        public var alert: RunAlert
    }

    /// What one poll found.
    public struct Poll: Sendable {
        /// New alerts, by run, each stream's in order.
        public var alerts: [Finding] = []
        /// Incidents that opened, escalated or closed, by run, each stream's in order.
        public var incidents: [RunIncidentEvent] = []
        /// New damage found (a truncated tail is normal while a writer writes, so it is left out).
        public var diagnostics: [RecordDiagnostic] = []
    }

    public init(logdir: String, classifier: TagClassifier, configuration: DetectorConfiguration) {
        self.logdir = logdir
        self.classifier = classifier
        self.configuration = configuration
    }

    /// Reads whatever is new and returns what it found.
    public func poll() -> Poll {
        var found = Poll()
        let runs = (try? RunDiscovery.runs(under: [logdir])) ?? []
        for run in runs {
            var followed = self.runs[run.name]
                ?? FollowedRun(analyzer: RunAnalyzer(name: run.name, classifier: classifier, configuration: configuration))
            for file in run.files { followed.analyzer.read(file) }
            followed.analyzer.completeQuietStreams()
            let analyzer = followed.analyzer
            for stream in 0..<analyzer.streamCount {
                if stream == followed.reportedAlerts.count {
                    followed.reportedAlerts.append(0)
                    followed.reportedEvents.append(0)
                }
                found.alerts += analyzer.alerts(of: stream, from: followed.reportedAlerts[stream]).map { Finding(run: run.name, alert: $0) }
                followed.reportedAlerts[stream] = analyzer.alertCount(of: stream)
                found.incidents += analyzer.events(of: stream, from: followed.reportedEvents[stream])
                followed.reportedEvents[stream] = analyzer.eventCount(of: stream)
            }
            let all = analyzer.diagnostics
            found.diagnostics += all[followed.reportedDiagnostics...].filter { $0.problem != .truncated }
            followed.reportedDiagnostics = all.count
            self.runs[run.name] = followed
        }
        return found
    }

    /// How many concurrent writers each run has shown so far (1 for most runs).
    public var streamCounts: [String: Int] { runs.mapValues { max(1, $0.analyzer.streamCount) } }

    /// Runs known so far.
    public var runNames: [String] { runs.keys.sorted() }

    /// Each followed run as it looks now.
    public func reports() -> [RunReport] { runNames.map { runs[$0]!.analyzer.report() } }
}
