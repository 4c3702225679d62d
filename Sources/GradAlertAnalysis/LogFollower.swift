import Dispatch
import Foundation
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
///
/// It costs little per followed file: no file stays open between polls, a file that has not
/// changed size is not read, and runs are read in parallel (the first poll, which reads what is
/// already on disk, uses every core). A run whose files have all gone is forgotten once it has
/// been gone for `forgetAfter` seconds.
public final class LogFollower {
    public let logdir: String
    private let classifier: TagClassifier
    private let configuration: DetectorConfiguration
    /// Seconds a run may be missing from the logdir before it is forgotten.
    public var forgetAfter: Double = 300
    /// Runs read at once.
    public var concurrency = ProcessInfo.processInfo.activeProcessorCount

    private final class FollowedRun: @unchecked Sendable {
        let analyzer: RunAnalyzer
        /// Per stream, how many of its alerts and incident events have been reported.
        var reportedAlerts: [Int] = []
        var reportedEvents: [Int] = []
        /// How many of its diagnostics have been reported.
        var reportedDiagnostics = 0
        /// When a poll last found it in the logdir.
        var lastSeen: Double
        /// What the last poll that read it found.
        var found = Poll()

        init(analyzer: RunAnalyzer, seen: Double) {
            self.analyzer = analyzer
            lastSeen = seen
        }
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
        /// Runs forgotten at this poll (gone from the logdir for `forgetAfter` seconds).
        public var forgotten: [String] = []
        /// Whether the poll stopped early because `shouldStop` said so.
        public var interrupted = false
        /// Why the log directory could not be listed (it may not exist yet), if it could not.
        public var error: String?
    }

    public init(logdir: String, classifier: TagClassifier, configuration: DetectorConfiguration) {
        self.logdir = logdir
        self.classifier = classifier
        self.configuration = configuration
    }

    /// Reads whatever is new and returns what it found. `shouldStop` is asked between runs (from
    /// any thread): a poll that reads a large logdir for the first time can be stopped part-way,
    /// and the next poll carries on where it left off.
    public func poll(shouldStop: @escaping @Sendable () -> Bool = { false }) -> Poll {
        let now = Date().timeIntervalSince1970
        var listingError: String?
        let discovered: [DiscoveredRun]
        do {
            discovered = try RunDiscovery.runs(under: [logdir])
        } catch {
            discovered = []
            listingError = error.description
        }
        let followed = discovered.map { run -> FollowedRun in
            let entry = runs[run.name] ?? {
                let entry = FollowedRun(analyzer: RunAnalyzer(name: run.name, classifier: classifier, configuration: configuration), seen: now)
                runs[run.name] = entry
                return entry
            }()
            entry.lastSeen = now
            return entry
        }
        // Each run is read by one thread at a time, into its own `found`.
        let work = UncheckedBox((discovered, followed))
        let stopped = AtomicFlag()
        let workers = max(1, min(concurrency, discovered.count))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var index = worker
            let (discovered, followed) = work.value
            while index < discovered.count {
                if shouldStop() {
                    stopped.set()
                    return
                }
                Self.read(discovered[index], into: followed[index])
                index += workers
            }
        }
        var result = Poll()
        for entry in followed {
            result.alerts += entry.found.alerts
            result.incidents += entry.found.incidents
            result.diagnostics += entry.found.diagnostics
            entry.found = Poll()
        }
        result.interrupted = stopped.isSet
        result.error = listingError
        for (name, entry) in runs where now - entry.lastSeen > forgetAfter {
            runs[name] = nil
            result.forgotten.append(name)
        }
        return result
    }

    /// Reads what is new in one run's files and keeps what it found in `entry.found`.
    private static func read(_ run: DiscoveredRun, into entry: FollowedRun) {
        let analyzer = entry.analyzer
        for file in run.files { analyzer.read(file) }
        analyzer.completeQuietStreams()
        var found = Poll()
        for stream in 0..<analyzer.streamCount {
            if stream == entry.reportedAlerts.count {
                entry.reportedAlerts.append(0)
                entry.reportedEvents.append(0)
            }
            found.alerts += analyzer.alerts(of: stream, from: entry.reportedAlerts[stream]).map { Finding(run: run.name, alert: $0) }
            entry.reportedAlerts[stream] = analyzer.alertCount(of: stream)
            found.incidents += analyzer.events(of: stream, from: entry.reportedEvents[stream])
            entry.reportedEvents[stream] = analyzer.eventCount(of: stream)
        }
        let all = analyzer.diagnostics
        found.diagnostics += all[entry.reportedDiagnostics...].filter { $0.problem != .truncated }
        entry.reportedDiagnostics = all.count
        entry.found = found
    }

    /// How many concurrent writers each run has shown so far (1 for most runs).
    public var streamCounts: [String: Int] { runs.mapValues { max(1, $0.analyzer.streamCount) } }

    /// Runs known so far.
    public var runNames: [String] { runs.keys.sorted() }

    /// Each followed run's analyzer, by name (for metrics: its streams' latest values, its
    /// incidents); not to be read while a poll runs.
    public var analyzers: [(name: String, analyzer: RunAnalyzer)] { runNames.map { ($0, runs[$0]!.analyzer) } }

    /// Each followed run as it looks now.
    public func reports() -> [RunReport] { runNames.map { runs[$0]!.analyzer.report() } }
}

/// Hands values the caller keeps alive to the worker threads of one poll.
private struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// A flag any thread may set.
private final class AtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false

    func set() { lock.withLock { flag = true } }
    var isSet: Bool { lock.withLock { flag } }
}
