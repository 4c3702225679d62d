import ExplosionDetector
import TensorBoardEvents

/// Everything gradalert finds in one run: turns its events into gradient-norm and loss series,
/// splits them into segments where steps go back (a restart), runs the detector over each segment,
/// and collects alerts and diagnostics. Events are consumed as they are read: nothing is kept per
/// point, so memory does not grow with the size of the log. A value type: a scan feeds it through
/// one mutating call per file, so its state is not re-checked for exclusive access on every field.
public struct RunAnalysis {
    public let name: String
    private let classifier: TagClassifier
    private let configuration: DetectorConfiguration

    private var detector: ExplosionDetector
    private var segment = 0
    /// Per segment: the first step of each tag (to tell which alerts a later segment hides).
    private var segmentFirstSteps: [[String: Int64]] = [[:]]
    private var pendingStep: Int64?
    private var pendingWallTime: Double?
    /// The pending step's points: (tag index, value).
    private var pending: [(tag: Int, value: Double)] = []
    private var layerNormCount = 0
    private var histogramNormCount = 0
    private var hasGlobalNorm = false
    /// Every tag seen, by index; `tagIndex` finds a tag's index from its bytes with one hash.
    private var tags: [TagState] = []
    private var tagIndex = TagTable()
    /// Per tag index, its series in the current segment's detector (a new segment, a new detector).
    private var seriesOfTag: [ExplosionDetector.SeriesID?] = []
    /// Reused buffers: one record's points (the first `recordCount`), and the values passed to
    /// the detector.
    private var recordPoints: [(tag: Int, value: Double)] = []
    private var recordCount = 0
    private var stepValues: [(ExplosionDetector.SeriesID, Double)] = []
    private var derivedGlobalTag: Int?

    private struct TagState {
        let name: String
        let kind: Classification
        /// The last step read for it in this segment.
        var lastStep: Int64?
        /// Whether it has a first step recorded in the current segment.
        var seenInSegment = -1

        var role: SeriesRole? {
            switch kind {
            case .scalar(let role): role
            case .gradientHistogram: .layerGradientNorm
            case .ignored: nil
            }
        }
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
    /// Of which summary events (the ones with values; not file versions or session logs).
    public private(set) var summaryEventsConsumed = 0
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

        /// The same alert, raised by concurrent writer `stream` of its run.
        func onStream(_ stream: Int) -> ScanAlert {
            var alert = self
            alert.stream = stream
            return alert
        }
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

    /// Reads a whole file (or what is new in it) and returns the alerts raised. Events are read in
    /// place (`EventFileReader.withNextEvent`): only the tags and the values the series need are
    /// decoded, and nothing is allocated per record.
    @discardableResult
    public mutating func consume(_ reader: EventFileReader, fileSize: Int? = nil) -> [ScanAlert] {
        var raised: [ScanAlert] = []
        while let _: Void = reader.withNextEvent({ entry in
            switch entry {
            case .diagnostic(let diagnostic): diagnostics.append(diagnostic)
            case .event(let view, let offset):
                do throws(WireError) {
                    try feed(view, alerts: &raised)
                } catch {
                    diagnostics.append(reader.malformed(at: offset, length: view.byteCount, error))
                }
            }
        }) {}
        return raised
    }

    /// Counts a file as part of the run (for the summary).
    public mutating func noteFile(bytes: Int, readable: Bool) {
        files += 1
        self.bytes += bytes
        if readable { readableFiles += 1 }
    }

    /// Adds one decoded event's values to the series; returns the alerts of any step it completed.
    public mutating func feed(_ event: Event) -> [ScanAlert] {
        noteEvent(wallTime: event.wallTime)
        guard case .summary(let values) = event.content else { return [] }
        summaryEventsConsumed += 1
        recordCount = 0
        for value in values {
            var tag = value.tag
            let index = tag.withUTF8 { tagIndex.find(UnsafeRawBufferPointer($0)) } ?? addTag(value.tag, classify(value))
            if let number = point(for: value, kind: tags[index].kind) { addRecordPoint(index, number) }
        }
        var raised: [ScanAlert] = []
        apply(step: event.step, wallTime: event.wallTime, alerts: &raised)
        return raised
    }

    /// Adds one event read in place. Throws, having added nothing, when a value it needs is malformed.
    mutating func feed(_ event: EventView, alerts raised: inout [ScanAlert]) throws(WireError) {
        noteEvent(wallTime: event.wallTime)
        guard case .summary = event.content else { return }
        summaryEventsConsumed += 1
        recordCount = 0
        var values = event.values
        while let value = try values.next() {
            let index: Int
            if let known = tagIndex.find(value.tagBytes) {
                index = known
            } else {
                // First sight of a tag: decode the value once to learn what it is.
                let decoded = try value.decode()
                index = addTag(decoded.tag, classify(decoded))
            }
            if let number = try point(for: value, kind: tags[index].kind) { addRecordPoint(index, number) }
        }
        apply(step: event.step, wallTime: event.wallTime, alerts: &raised)
    }

    private mutating func addRecordPoint(_ tag: Int, _ value: Double) {
        if recordCount < recordPoints.count {
            recordPoints[recordCount] = (tag, value)
        } else {
            recordPoints.append((tag, value))
        }
        recordCount += 1
    }

    private mutating func noteEvent(wallTime: Double) {
        eventsConsumed += 1
        if wallTime.isFinite { lastWallTime = max(lastWallTime ?? wallTime, wallTime) }
    }

    /// Adds the points of one record (in `recordPoints`) at `step`.
    private mutating func apply(step: Int64, wallTime: Double, alerts raised: inout [ScanAlert]) {
        for (index, number) in recordPoints[..<recordCount] {
            // A step at or before this tag's last one: the job restarted (or a writer was resumed).
            if let last = tags[index].lastStep, step <= last {
                raised += flush()
                startSegment()
            }
            if pendingStep != step {
                raised += flush()
                pendingStep = step
                pendingWallTime = wallTime
            }
            tags[index].lastStep = step
            if tags[index].seenInSegment != segment {
                tags[index].seenInSegment = segment
                segmentFirstSteps[segment][tags[index].name] = step
            }
            // Histograms of layers that also log norm scalars are dropped at the flush anyway.
            if tags[index].kind == .gradientHistogram, layerNormCount > 0 { continue }
            pending.append((index, number))
        }
    }

    private mutating func addTag(_ name: String, _ kind: Classification) -> Int {
        let index = tags.count
        tags.append(TagState(name: name, kind: kind))
        seriesOfTag.append(nil)
        var key = name
        key.withUTF8 { tagIndex.insert(UnsafeRawBufferPointer($0), index: index) }
        return index
    }

    /// What a tag is, decided the first time it is seen.
    private mutating func classify(_ value: SummaryValue) -> Classification {
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
            if role == .layerGradientNorm { layerNormCount += 1 }
            if role == .globalGradientNorm { hasGlobalNorm = true }
        case .gradientHistogram:
            gradientSeries.append(value.tag)
            histogramNormCount += 1
        case .ignored: break
        }
        return kind
    }

    /// The number a decoded value contributes to its series, if any.
    private func point(for value: SummaryValue, kind: Classification) -> Double? {
        switch (kind, value.value) {
        case (.scalar, .scalar(let number)): number
        case (.gradientHistogram, .histogram(let histogram)):
            Self.norm(min: histogram.min, max: histogram.max, sum: histogram.sum, sumSquares: histogram.sumSquares)
        case (.gradientHistogram, .bucketHistogram(let histogram)): Self.norm(histogram)
        default: nil
        }
    }

    /// As above, for a value read in place: scalars and legacy histograms without decoding more.
    private func point(for value: SummaryValueView, kind: Classification) throws(WireError) -> Double? {
        switch kind {
        case .ignored: return nil
        case .scalar: return try value.scalar()
        case .gradientHistogram:
            if let moments = try value.histogramMoments() {
                return Self.norm(min: moments.min, max: moments.max, sum: moments.sum, sumSquares: moments.sumSquares)
            }
            if case .bucketHistogram(let histogram) = try value.decode().value { return Self.norm(histogram) }
            return nil
        }
    }

    /// A legacy histogram's norm, sqrt(sum of squares); a non-finite min, max or sum makes it non-finite.
    private static func norm(min: Double, max: Double, sum: Double, sumSquares: Double) -> Double {
        if !min.isFinite || !max.isFinite || !sum.isFinite { return sum.isNaN ? .nan : .infinity }
        return sumSquares.squareRoot()
    }

    /// TF2 histograms carry no sum of squares: estimate it from the bucket centres.
    private static func norm(_ histogram: BucketHistogram) -> Double {
        let edgesFinite = zip(histogram.leftEdges, histogram.rightEdges).allSatisfy { $0.isFinite && $1.isFinite }
        return edgesFinite ? histogram.estimatedSumSquares.squareRoot() : Double.infinity
    }

    /// Runs the detector over the points of the pending step.
    @discardableResult
    public mutating func flush() -> [ScanAlert] {
        guard let step = pendingStep, !pending.isEmpty else {
            pendingStep = nil
            return []
        }
        pendingStep = nil
        defer { pending.removeAll(keepingCapacity: true) }
        // A run that logs per-layer norm scalars and gradient histograms of the same layers (as
        // GradientMonitor does) is watched through the scalars, which come every step; the
        // histograms would raise every alert a second time.
        let dropHistograms = layerNormCount > 0 && histogramNormCount > 0
        if dropHistograms {
            pending.removeAll { tags[$0.tag].kind == .gradientHistogram }
            if pending.isEmpty { return [] }
        }
        // No global norm logged: compute one from the per-layer norms at steps that have them all.
        let sources = layerNormCount > 0 ? layerNormCount : histogramNormCount
        if !hasGlobalNorm, sources >= 2 {
            var count = 0
            var squares = 0.0
            for (index, value) in pending {
                let kind = tags[index].kind
                if layerNormCount > 0 ? kind == .scalar(.layerGradientNorm) : kind == .gradientHistogram {
                    count += 1
                    squares += value * value
                }
            }
            if count == sources {
                let global = derivedGlobalTag ?? {
                    let index = addTag(Self.derivedGlobalName, .scalar(.globalGradientNorm))
                    gradientSeries.append(Self.derivedGlobalName)
                    derivedGlobalTag = index
                    return index
                }()
                pending.append((global, squares.squareRoot()))
            }
        }
        if let sink = pointSink {
            for (index, value) in pending {
                let tag = tags[index]
                sink(SeriesPoint(run: name, segment: segment, series: tag.name, role: tag.role!, step: step, wallTime: pendingWallTime, value: value))
            }
        }
        stepValues.removeAll(keepingCapacity: true)
        // Registered loss first, as the detector looks at them, so its series keep that order.
        for pass in 0..<2 {
            for (index, value) in pending where (tags[index].kind == .scalar(.loss)) == (pass == 0) {
                let series = seriesOfTag[index] ?? {
                    let id = detector.series(tags[index].name, role: tags[index].role!)
                    seriesOfTag[index] = id
                    return id
                }()
                stepValues.append((series, value))
            }
        }
        let raised = detector.observe(step: step, wallTime: pendingWallTime, values: stepValues)
        let found = raised.map { ScanAlert(alert: $0, segment: segment, superseded: false) }
        alerts += found
        return found
    }

    private mutating func startSegment() {
        finishedEpisodes += detector.episodes.map { (segment, $0) }
        segment += 1
        segmentFirstSteps.append([:])
        for index in tags.indices { tags[index].lastStep = nil }
        for index in seriesOfTag.indices { seriesOfTag[index] = nil }
        detector = ExplosionDetector(configuration: configuration)
    }

    // MARK: - Results

    /// Finishes the run: flushes the last step, fills in each alert's origin from its episode, and
    /// marks the alerts that a later segment hides from TensorBoard.
    public mutating func finish() -> RunReport {
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
        let histogramTags = Set(tags.filter { $0.kind == .gradientHistogram }.map(\.name))
        let watched = layerNormCount == 0 ? gradientSeries : gradientSeries.filter { !histogramTags.contains($0) }
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
