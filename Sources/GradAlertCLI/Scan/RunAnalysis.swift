import ExplosionDetector
import TensorBoardEvents

/// Everything gradalert finds in one run: turns its events into gradient-norm and loss series,
/// splits them into segments where steps go back (a restart), runs the detector over each segment,
/// and collects alerts and diagnostics. Events are consumed as they are read: nothing is kept per
/// point, so memory does not grow with the size of the log.
public final class RunAnalysis {
    public let name: String
    private let classifier: TagClassifier
    private let configuration: DetectorConfiguration

    private var detector: ExplosionDetector
    private var segment = 0
    /// Per segment: the first step of each tag (to tell which alerts a later segment hides).
    private var segmentFirstSteps: [[String: Int64]] = [[:]]
    private var pendingStep: Int64?
    private var pendingWallTime: Double?
    private var pending: [ExplosionDetector.Point] = []
    private var layerNorms: Set<String> = []
    private var histogramNorms: Set<String> = []
    private var hasGlobalNorm = false
    /// Per tag, found with one hash: what it is, and the last step read for it in this segment.
    private var tags: [String: TagState] = [:]

    private struct TagState {
        var kind: Classification
        var lastStep: Int64?
        /// Whether it has a first step recorded in the current segment.
        var seenInSegment = -1
    }

    public private(set) var alerts: [ScanAlert] = []
    public private(set) var diagnostics: [RecordDiagnostic] = []
    public private(set) var gradientSeries: [String] = []
    public private(set) var lossSeries: [String] = []
    public private(set) var files = 0
    public private(set) var bytes = 0
    public private(set) var readableFiles = 0
    /// Events read so far (of any kind).
    public private(set) var eventsConsumed = 0
    /// The latest wall time of any event read.
    public private(set) var lastWallTime: Double?
    /// Episodes of finished segments, with their segment number.
    private var finishedEpisodes: [(segment: Int, episode: ExplosionDetector.Episode)] = []

    /// One value of one series, as the detector sees it.
    public struct SeriesPoint: Sendable {
        public var run: String
        public var segment: Int
        public var series: String
        public var role: SeriesRole
        public var step: Int64
        public var wallTime: Double?
        public var value: Double
    }

    /// Called with every point the detector is given (for `gradalert export`).
    public var pointSink: ((SeriesPoint) -> Void)?

    /// The name of the global norm gradalert computes from per-layer norms when a run logs none.
    public static let derivedGlobalName = "grad_norm/global (computed from layers)"

    /// An alert with where it was found.
    public struct ScanAlert: Sendable {
        public var alert: Alert
        public var segment: Int
        /// A later segment rewrote this step: TensorBoard will not show it.
        public var superseded: Bool
        /// Which concurrent writer (data-parallel rank) of the run it came from; 0 when there is one.
        public var stream: Int = 0
    }

    private enum Classification: Equatable {
        case scalar(SeriesRole)
        case gradientHistogram
        case ignored
    }

    public init(name: String, classifier: TagClassifier, configuration: DetectorConfiguration) {
        self.name = name
        self.classifier = classifier
        self.configuration = configuration
        detector = ExplosionDetector(configuration: configuration)
    }

    // MARK: - Feeding

    /// Reads a whole file (or what is new in it) and returns the alerts raised.
    @discardableResult
    public func consume(_ reader: EventFileReader, fileSize: Int? = nil) -> [ScanAlert] {
        var raised: [ScanAlert] = []
        while let entry = reader.next() {
            switch entry {
            case .event(let event, _): raised += feed(event)
            case .diagnostic(let diagnostic): diagnostics.append(diagnostic)
            }
        }
        return raised
    }

    /// Counts a file as part of the run (for the summary).
    public func noteFile(bytes: Int, readable: Bool) {
        files += 1
        self.bytes += bytes
        if readable { readableFiles += 1 }
    }

    /// Adds one event's values to the series; returns the alerts of any step it completed.
    public func feed(_ event: Event) -> [ScanAlert] {
        eventsConsumed += 1
        if event.wallTime.isFinite { lastWallTime = max(lastWallTime ?? event.wallTime, event.wallTime) }
        guard case .summary(let values) = event.content else { return [] }
        var raised: [ScanAlert] = []
        for value in values {
            var state = tags[value.tag] ?? TagState(kind: classify(value))
            let points = self.points(for: value, kind: state.kind)
            guard !points.isEmpty else {
                tags[value.tag] = state
                continue
            }
            // A step at or before this tag's last one: the job restarted (or a writer was resumed).
            if let last = state.lastStep, event.step <= last {
                raised += flush()
                startSegment()
                state.lastStep = nil
            }
            if pendingStep != event.step {
                raised += flush()
                pendingStep = event.step
                pendingWallTime = event.wallTime
            }
            state.lastStep = event.step
            if state.seenInSegment != segment {
                state.seenInSegment = segment
                segmentFirstSteps[segment][value.tag] = event.step
            }
            tags[value.tag] = state
            pending += points
        }
        return raised
    }

    /// What a tag is, decided the first time it is seen.
    private func classify(_ value: SummaryValue) -> Classification {
        var kind: Classification
        switch value.value {
        case .scalar:
            switch classifier.classifyScalar(value.tag) {
            case .gradient(let role): kind = .scalar(role)
            case .loss: kind = .scalar(.loss)
            case .ignored: kind = .ignored
            }
        case .histogram, .bucketHistogram:
            kind = classifier.isGradientHistogram(value.tag) ? .gradientHistogram : .ignored
        default:
            kind = .ignored
        }
        // A layer's max |g| moves with its norm; watching both would raise every alert twice.
        if case .scalar(.layerGradientMax) = kind { kind = .ignored }
        switch kind {
        case .scalar(.loss): lossSeries.append(value.tag)
        case .scalar(let role):
            gradientSeries.append(value.tag)
            if role == .layerGradientNorm { layerNorms.insert(value.tag) }
            if role == .globalGradientNorm { hasGlobalNorm = true }
        case .gradientHistogram:
            gradientSeries.append(value.tag)
            histogramNorms.insert(value.tag)
        case .ignored: break
        }
        return kind
    }

    private func points(for value: SummaryValue, kind: Classification) -> [ExplosionDetector.Point] {
        switch (kind, value.value) {
        case (.scalar(let role), .scalar(let number)):
            return [.init(value.tag, role, number)]
        case (.gradientHistogram, .histogram(let histogram)):
            // Norm = sqrt(sum of squares); a non-finite min, max or sum makes it non-finite.
            var norm = histogram.l2Norm
            if !histogram.min.isFinite || !histogram.max.isFinite || !histogram.sum.isFinite { norm = histogram.sum.isNaN ? .nan : .infinity }
            return [.init(value.tag, .layerGradientNorm, norm)]
        case (.gradientHistogram, .bucketHistogram(let histogram)):
            // TF2 histograms carry no sum of squares: estimate it from the bucket centres.
            let edgesFinite = zip(histogram.leftEdges, histogram.rightEdges).allSatisfy { $0.isFinite && $1.isFinite }
            let norm = edgesFinite ? histogram.estimatedSumSquares.squareRoot() : Double.infinity
            return [.init(value.tag, .layerGradientNorm, norm)]
        default:
            return []
        }
    }

    /// Runs the detector over the points of the pending step.
    @discardableResult
    public func flush() -> [ScanAlert] {
        guard let step = pendingStep, !pending.isEmpty else {
            pendingStep = nil
            return []
        }
        var points = pending
        pending.removeAll(keepingCapacity: true)
        pendingStep = nil
        // A run that logs per-layer norm scalars and gradient histograms of the same layers (as
        // GradientMonitor does) is watched through the scalars, which come every step; the
        // histograms would raise every alert a second time.
        if !layerNorms.isEmpty && !histogramNorms.isEmpty {
            points.removeAll { histogramNorms.contains($0.series) }
            if points.isEmpty { return [] }
        }
        // No global norm logged: compute one from the per-layer norms at steps that have them all.
        let sources = layerNorms.isEmpty ? histogramNorms : layerNorms
        if !hasGlobalNorm, sources.count >= 2 {
            let layers = points.filter { $0.role == .layerGradientNorm && sources.contains($0.series) }
            if layers.count == sources.count {
                let total = layers.reduce(0.0) { $0 + $1.value * $1.value }.squareRoot()
                points.append(.init(Self.derivedGlobalName, .globalGradientNorm, total))
                if !gradientSeries.contains(Self.derivedGlobalName) { gradientSeries.append(Self.derivedGlobalName) }
            }
        }
        if let sink = pointSink {
            for point in points {
                sink(SeriesPoint(run: name, segment: segment, series: point.series, role: point.role, step: step, wallTime: pendingWallTime, value: point.value))
            }
        }
        let raised = detector.observe(step: step, wallTime: pendingWallTime, points: points)
        let found = raised.map { ScanAlert(alert: $0, segment: segment, superseded: false) }
        alerts += found
        return found
    }

    private func startSegment() {
        finishedEpisodes += detector.episodes.map { (segment, $0) }
        segment += 1
        segmentFirstSteps.append([:])
        for key in tags.keys { tags[key]!.lastStep = nil }
        detector = ExplosionDetector(configuration: configuration)
    }

    // MARK: - Results

    /// Finishes the run: flushes the last step, fills in each alert's origin from its episode, and
    /// marks the alerts that a later segment hides from TensorBoard.
    public func finish() -> RunReport {
        flush()
        let episodes = finishedEpisodes + detector.episodes.map { (segment, $0) }
        var result = alerts
        for index in result.indices {
            let alert = result[index]
            if let episode = episodes.first(where: { $0.segment == alert.segment && $0.episode.alerts.contains(alert.alert) }) {
                result[index].alert.origin = episode.episode.origin
            }
            let tag = alert.alert.series == Self.derivedGlobalName ? nil : alert.alert.series
            for later in (alert.segment + 1)..<max(segmentFirstSteps.count, alert.segment + 1) {
                let firsts = segmentFirstSteps[later]
                let first = tag.flatMap { firsts[$0] } ?? firsts.values.min()
                if let first, first <= alert.alert.step {
                    result[index].superseded = true
                    break
                }
            }
        }
        let watched = layerNorms.isEmpty ? gradientSeries : gradientSeries.filter { !histogramNorms.contains($0) }
        return RunReport(
            run: name, alerts: result, gradientSeries: watched, lossSeries: lossSeries,
            diagnostics: diagnostics, files: files, readableFiles: readableFiles, bytes: bytes,
            segments: segment + 1)
    }
}

/// The verdict and findings for one run.
public struct RunReport: Sendable {
    public var run: String
    public var alerts: [RunAnalysis.ScanAlert]
    public var gradientSeries: [String]
    public var lossSeries: [String]
    public var diagnostics: [RecordDiagnostic]
    public var files: Int
    public var readableFiles: Int
    public var bytes: Int
    public var segments: Int
    /// Files written at the same time (data-parallel ranks) are read as separate streams.
    public var streams: Int = 1

    public enum Verdict: String, Sendable, Comparable {
        case healthy, warning, exploding, nonfinite

        public static func < (lhs: Verdict, rhs: Verdict) -> Bool {
            let order: [Verdict] = [.healthy, .warning, .exploding, .nonfinite]
            return order.firstIndex(of: lhs)! < order.firstIndex(of: rhs)!
        }
    }

    /// nonfinite if any non-finite alert, else exploding if any critical, else warning if any
    /// alert, else healthy.
    public var verdict: Verdict {
        if alerts.contains(where: { $0.alert.kind == .nonfinite }) { return .nonfinite }
        if alerts.contains(where: { $0.alert.severity == .critical }) { return .exploding }
        return alerts.isEmpty ? .healthy : .warning
    }

    public var firstAlert: RunAnalysis.ScanAlert? { alerts.first }

    /// The origin of the first episode that has one.
    public var origin: String? { alerts.lazy.compactMap(\.alert.origin).first }

    public var maxSeverity: Severity? { alerts.map(\.alert.severity).max() }
}
