/// Turns the values of one stream of a run, as they come — one at a time, several per step —
/// into the steps the detector judges. The live path (`GradientMonitor.record`) and the file path
/// (`gradalert scan`, `watch`, `export`) both go through it, so the same gradients give the same
/// alerts, in the same order, with the same origin, either way.
///
/// What it decides:
/// - **Steps.** Values of one step are gathered until a value of another step arrives or
///   `completeStep()` is called; then the detector sees them together.
/// - **Segments.** A series whose step goes back to or before its last one means the job
///   restarted (or a writer was resumed): the pending step is judged, and a new segment starts
///   with a fresh detector.
/// - **Which series the detector sees.** Gradient norms derived from histograms are dropped when
///   per-layer norm scalars exist (a run that logs both would raise every alert twice); a global
///   norm is computed from the per-layer norms at steps that have them all, when none is logged.
/// - **In what order.** Loss series first (a loss that broke at the same step as the gradients
///   broke first), then the rest in the order they were registered.
/// - **Origin.** Each alert carries the first layer to alert in its incident, as known when it is
///   raised (the detector's rule), never filled in later.
public struct StepAssembler {
    /// What a series holds.
    public enum SeriesKind: Sendable, Equatable {
        /// A logged number: a global or layer gradient norm, a layer's max |g|, a loss.
        case scalar(SeriesRole)
        /// A layer's gradient norm computed from its gradient histogram.
        case histogramNorm

        /// The role the detector sees.
        public var role: SeriesRole {
            switch self {
            case .scalar(let role): role
            case .histogramNorm: .layerGradientNorm
            }
        }
    }

    /// A registered series (see `series(_:kind:)`).
    public struct SeriesID: Hashable, Sendable {
        public let index: Int
    }

    /// An alert, the segment of the run it was raised in, and its incident (an index into
    /// `incidents`).
    public struct SegmentAlert: Sendable, Equatable {
        public var alert: Alert
        public var segment: Int
        public var incident: Int
    }

    /// One value as the detector sees it (or would, when detection is off).
    public struct Point: Sendable {
        public var series: String
        public var role: SeriesRole
        public var segment: Int
        public var step: Int64
        public var wallTime: Double?
        public var value: Double
    }

    /// The name given to the global norm computed from per-layer norms when none is logged.
    public static let derivedGlobalName = "grad_norm/global (computed from layers)"

    // MARK: - State

    public let configuration: DetectorConfiguration
    /// Whether the detector runs (export assembles the series without judging them).
    public let detects: Bool

    private struct Entry {
        let name: String
        let kind: SeriesKind
        /// The last step seen in the current segment.
        var lastStep: Int64?
        /// The last segment it had a value in (its first step there is recorded once).
        var seenInSegment = -1
        /// Its handle in the current segment's detector.
        var detectorID: GradientDetector.SeriesID?
        /// Its most recent value, whatever the segment (for live metrics).
        var latest: Latest?
    }

    /// A series' most recent value and where it was.
    public struct Latest: Sendable, Equatable {
        public var step: Int64
        public var wallTime: Double?
        public var value: Double
    }

    /// The most recent value of every series that has one, in order of registration.
    public var latestValues: [(name: String, kind: SeriesKind, latest: Latest)] {
        entries.compactMap { entry in entry.latest.map { (entry.name, entry.kind, $0) } }
    }

    /// The step of the last value added, with its wall time (nil before any value).
    public private(set) var latestStep: Latest?

    /// Every registered series, by `SeriesID.index`.
    private var entries: [Entry] = []
    private var layerNormCount = 0
    private var histogramNormCount = 0
    private var hasGlobalNorm = false
    private var derivedGlobal: SeriesID?

    /// The current segment (0 until the first restart) and its detector.
    public private(set) var segment = 0
    private var detector: GradientDetector
    /// Per segment: the first step of each series in it (to tell which alerts a later segment hides).
    private var segmentFirstSteps: [[String: Int64]] = [[:]]
    /// Incidents of the segments before the current one.
    private var finishedIncidents: [Incident] = []
    /// How many of the current detector's incident events have been collected.
    private var detectorEventsSeen = 0
    /// The last step judged in the current segment.
    private var lastJudgedStep: Int64?

    /// The step being gathered, its wall time (its first value's) and its values.
    private var pendingStep: Int64?
    private var pendingWallTime: Double?
    private var pending: [(series: Int, value: Double)] = []
    /// Reused for the detector's input.
    private var stepValues: [(GradientDetector.SeriesID, Double)] = []

    /// Every alert so far, in order.
    public private(set) var alerts: [SegmentAlert] = []
    /// Every change of an incident so far (opened, escalated, closed), in order.
    public private(set) var events: [IncidentEvent] = []
    /// Called with every point the detector is given (for `gradalert export`).
    public var pointSink: ((Point) -> Void)?

    public init(configuration: DetectorConfiguration = DetectorConfiguration(), detects: Bool = true) {
        self.configuration = configuration
        self.detects = detects
        detector = GradientDetector(configuration: configuration)
    }

    // MARK: - Series

    /// Registers a series (the same name twice gives the same handle, with its first kind).
    public mutating func series(_ name: String, kind: SeriesKind) -> SeriesID {
        if let known = entries.firstIndex(where: { $0.name == name }) { return SeriesID(index: known) }
        switch kind {
        case .scalar(.layerGradientNorm): layerNormCount += 1
        case .scalar(.globalGradientNorm): hasGlobalNorm = true
        case .histogramNorm: histogramNormCount += 1
        case .scalar: break
        }
        return register(name, kind)
    }

    private mutating func register(_ name: String, _ kind: SeriesKind) -> SeriesID {
        entries.append(Entry(name: name, kind: kind))
        return SeriesID(index: entries.count - 1)
    }

    /// The gradient series the detector watches (histogram norms only when no layer norm
    /// scalars exist), and the loss series, in order of registration.
    public var watchedGradientSeries: [String] {
        entries.filter { $0.kind.role.isGradient && !(layerNormCount > 0 && $0.kind == .histogramNorm) }.map(\.name)
    }

    /// The post-clip norm series (logged, not watched: its presence says clipping is active).
    public var clippedSeries: [String] {
        entries.filter { $0.kind == .scalar(.clippedGradientNorm) }.map(\.name)
    }

    public var lossSeries: [String] { entries.filter { $0.kind == .scalar(.loss) }.map(\.name) }

    // MARK: - Values

    /// Adds the value of `id` at `step`; judges the pending step first when this value belongs
    /// to another step (or to a new segment).
    public mutating func add(_ id: SeriesID, _ value: Double, step: Int64, wallTime: Double?) {
        let index = id.index
        if let last = entries[index].lastStep, step <= last {
            completeStep()
            startSegment()
        }
        if pendingStep != step {
            completeStep()
            pendingStep = step
            pendingWallTime = wallTime
        }
        entries[index].lastStep = step
        entries[index].latest = Latest(step: step, wallTime: wallTime, value: value)
        latestStep = Latest(step: step, wallTime: wallTime, value: value)
        if entries[index].seenInSegment != segment {
            entries[index].seenInSegment = segment
            segmentFirstSteps[segment][entries[index].name] = step
        }
        // Histograms of layers that also log norm scalars are not watched.
        if entries[index].kind == .histogramNorm, layerNormCount > 0 { return }
        pending.append((index, value))
    }

    /// Judges the pending step, if any (at the end of a live step, when a file has nothing more
    /// for now, or at the end of the data); returns whether there was one.
    @discardableResult
    public mutating func completeStep() -> Bool {
        guard let step = pendingStep else { return false }
        pendingStep = nil
        defer { pending.removeAll(keepingCapacity: true) }
        // A run that logs per-layer norm scalars and gradient histograms of the same layers (as
        // GradientMonitor does) is watched through the scalars, which come every step.
        if layerNormCount > 0 && histogramNormCount > 0 {
            pending.removeAll { entries[$0.series].kind == .histogramNorm }
        }
        guard !pending.isEmpty else { return true }
        addDerivedGlobalNorm(step: step)
        if let sink = pointSink {
            for (index, value) in pending {
                let entry = entries[index]
                sink(Point(series: entry.name, role: entry.kind.role, segment: segment, step: step, wallTime: pendingWallTime, value: value))
            }
        }
        guard detects else { return true }
        stepValues.removeAll(keepingCapacity: true)
        // Loss first, as the detector looks at them, so that its series are registered in that order.
        for pass in 0..<2 {
            for (index, value) in pending where (entries[index].kind == .scalar(.loss)) == (pass == 0) {
                let id = entries[index].detectorID ?? {
                    let id = detector.series(entries[index].name, role: entries[index].kind.role)
                    entries[index].detectorID = id
                    return id
                }()
                stepValues.append((id, value))
            }
        }
        for alert in detector.observe(step: step, wallTime: pendingWallTime, values: stepValues) {
            // An alert belongs to the incident open when it is raised: the detector's last.
            alerts.append(SegmentAlert(alert: alert, segment: segment, incident: finishedIncidents.count + detector.incidents.count - 1))
        }
        lastJudgedStep = step
        collectEvents()
        return true
    }

    /// Takes the detector's new incident events, stamped with the segment.
    private mutating func collectEvents() {
        for var event in detector.events[detectorEventsSeen...] {
            event.incident.segment = segment
            events.append(event)
        }
        detectorEventsSeen = detector.events.count
    }

    /// No global norm logged: compute one from the per-layer norms (the scalars, or else the
    /// histogram norms), at steps that have them all.
    private mutating func addDerivedGlobalNorm(step: Int64) {
        let sources = layerNormCount > 0 ? layerNormCount : histogramNormCount
        guard !hasGlobalNorm, sources >= 2 else { return }
        var count = 0
        var squares = 0.0
        for (index, value) in pending {
            let kind = entries[index].kind
            if layerNormCount > 0 ? kind == .scalar(.layerGradientNorm) : kind == .histogramNorm {
                count += 1
                squares += value * value
            }
        }
        guard count == sources else { return }
        let global = derivedGlobal ?? {
            // Registered without counting as a logged global norm.
            let id = register(Self.derivedGlobalName, .scalar(.globalGradientNorm))
            derivedGlobal = id
            return id
        }()
        pending.append((global.index, squares.squareRoot()))
        entries[global.index].latest = Latest(step: step, wallTime: pendingWallTime, value: squares.squareRoot())
    }

    private mutating func startSegment() {
        // The restart ends whatever incident was open, at the segment's last step.
        if let lastJudgedStep { detector.closeIncident(at: lastJudgedStep) }
        collectEvents()
        finishedIncidents += currentIncidents
        detectorEventsSeen = 0
        lastJudgedStep = nil
        segment += 1
        segmentFirstSteps.append([:])
        for index in entries.indices {
            entries[index].lastStep = nil
            entries[index].detectorID = nil
        }
        detector = GradientDetector(configuration: configuration)
    }

    // MARK: - Results

    /// Every incident so far, oldest first (the last may be open).
    public var incidents: [Incident] { finishedIncidents + currentIncidents }

    private var currentIncidents: [Incident] {
        detector.incidents.map { incident in
            var incident = incident
            incident.segment = segment
            return incident
        }
    }

    /// Whether a later segment rewrote the step of `alert` (TensorBoard then shows the later
    /// values, not the ones that raised it). A derived global norm counts as rewritten when any
    /// series of a later segment starts at or before its step.
    public func isOverwritten(_ alert: SegmentAlert) -> Bool {
        isOverwritten(step: alert.alert.step, series: alert.alert.series, segment: alert.segment)
    }

    /// Whether a later segment than `segment` rewrote `step` of `series`.
    public func isOverwritten(step: Int64, series: String, segment: Int) -> Bool {
        let name = series == Self.derivedGlobalName ? nil : series
        for later in segmentFirstSteps.indices where later > segment {
            let firsts = segmentFirstSteps[later]
            if let first = name.flatMap({ firsts[$0] }) ?? firsts.values.min(), first <= step { return true }
        }
        return false
    }

    /// Number of segments so far.
    public var segments: Int { segment + 1 }
}
