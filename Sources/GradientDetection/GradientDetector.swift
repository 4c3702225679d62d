/// Watches many series at once — per-layer and global gradient norms, the loss — step by step,
/// and says when gradients explode, vanish or collapse: which rule, where, against what baseline,
/// which layer went first, and what to try.
///
/// Most programs do not use it directly: `StepAssembler` (which both the live monitor and the
/// file analysis go through) decides which series it sees and in what order.
///
/// ```swift
/// var detector = GradientDetector()
/// let alerts = detector.observe(step: 12, points: [
///     .init("grad_norm/global", .globalGradientNorm, 3.1e5),
///     .init("grad_norm/fc3", .layerGradientNorm, 2.9e5),
///     .init("loss", .loss, 2.2),
/// ])
/// ```
public struct GradientDetector: Sendable {
    public let configuration: DetectorConfiguration

    /// One value of one series at a step.
    public struct Point: Sendable {
        public var series: String
        public var role: SeriesRole
        public var value: Double

        public init(_ series: String, _ role: SeriesRole, _ value: Double) {
            self.series = series
            self.role = role
            self.value = value
        }
    }

    /// A series known to the detector: what `series(_:role:)` returns, so that each step's values
    /// are passed without their names (no hashing or string work per point).
    public struct SeriesID: Hashable, Sendable {
        public let index: Int
    }

    // MARK: - State

    private var monitors: [SeriesMonitor] = []
    private var lossMonitors: [Int] = []
    private var indexOfSeries: [String: Int] = [:]
    /// The first step observed, and the first non-finite loss and gradient (for remedies).
    private var firstStep: Int64?
    private var firstLossNonfinite: Int64?
    private var firstGradientNonfinite: Int64?
    /// Every incident so far; the last one may be open.
    public private(set) var incidents: [Incident] = []
    /// Every change of an incident so far (opened, escalated, closed), in order.
    public private(set) var events: [IncidentEvent] = []
    private var incidentOpen = false
    /// The step and ratio of the open incident's origin alert (ties at one step: the largest ratio).
    private var originStep: Int64?
    private var originRatio = -Double.infinity
    /// Whether a global gradient norm series is registered (the peak of an incident is its value).
    private var hasGlobalNorm = false
    /// The post-clip norm series, when one is registered: clipping is active.
    private var clippedSeries: String?
    /// Whether a gradient series names a recurrent layer (for the advice).
    private var hasRecurrentLayers = false

    public init(configuration: DetectorConfiguration = DetectorConfiguration()) {
        self.configuration = configuration
    }

    /// Every alert so far, in order.
    public var alerts: [Alert] { incidents.flatMap(\.alerts) }

    /// The handle of the series named `name`, registering it (with `role`) the first time.
    public mutating func series(_ name: String, role: SeriesRole) -> SeriesID {
        if let known = indexOfSeries[name] { return SeriesID(index: known) }
        let index = monitors.count
        monitors.append(SeriesMonitor(name: name, role: role, configuration: configuration))
        if role == .loss { lossMonitors.append(index) }
        if role == .globalGradientNorm { hasGlobalNorm = true }
        if role == .clippedGradientNorm, clippedSeries == nil { clippedSeries = name }
        if role.isGradient, !hasRecurrentLayers, Self.namesRecurrentLayer(name) { hasRecurrentLayers = true }
        indexOfSeries[name] = index
        return SeriesID(index: index)
    }

    // MARK: - Observing

    /// Evaluates every point of one step. Loss points are looked at first, so that a loss that went
    /// NaN at the same step as the gradients counts as going first (the forward pass broke).
    public mutating func observe(step: Int64, wallTime: Double? = nil, points: [Point]) -> [Alert] {
        var values: [(SeriesID, Double)] = []
        values.reserveCapacity(points.count)
        for point in points { values.append((series(point.series, role: point.role), point.value)) }
        return observe(step: step, wallTime: wallTime, values: values)
    }

    /// Evaluates one value of one series (for series that do not come in steps together).
    public mutating func observe(step: Int64, wallTime: Double? = nil, series: String, role: SeriesRole, value: Double) -> [Alert] {
        observe(step: step, wallTime: wallTime, points: [Point(series, role, value)])
    }

    /// Evaluates one step's values of registered series (see `series(_:role:)`); loss series
    /// first. Each alert carries the origin known once this step's alerts are in.
    public mutating func observe(step: Int64, wallTime: Double? = nil, values: [(SeriesID, Double)]) -> [Alert] {
        if firstStep == nil { firstStep = step }
        var raised: [Alert] = []
        var context = SeriesMonitor.StepContext(clippedSeries: clippedSeries)
        for pass in 0..<2 {
            if pass == 1 {
                // What the losses of this step say, for the gradient rules.
                if configuration.collapse.enabled { context.lossProgress = leastLossProgress() }
                context.lossJump = largestLossJump(values)
            }
            for (id, value) in values where (monitors[id.index].role == .loss) == (pass == 0) {
                // A post-clip norm is never judged: it is small by construction.
                if monitors[id.index].role == .clippedGradientNorm { continue }
                observe(step: step, wallTime: wallTime, index: id.index, value: value, context: context, into: &raised)
            }
        }
        if !raised.isEmpty { record(raised: &raised, at: step, wallTime: wallTime, values: values) }
        if incidentOpen {
            if raised.isEmpty { notePeaks(values) }
            if !monitors.contains(where: \.hasOpenEpisode) { closeIncident(at: step) }
        }
        return raised
    }

    /// Adds this step's alerts to the open incident (opening one if needed) and sets their origin:
    /// the first layer series to raise an explosion alert in the incident; ties, the largest ratio.
    private mutating func record(raised: inout [Alert], at step: Int64, wallTime: Double?, values: [(SeriesID, Double)]) {
        let opening = !incidentOpen
        if opening {
            incidents.append(Incident(segment: 0, openingStep: step, openingWallTime: wallTime, severity: raised.map(\.severity).max()!))
            incidentOpen = true
            originStep = nil
            originRatio = -.infinity
        }
        let current = incidents.count - 1
        var origin = incidents[current].origin
        for alert in raised where alert.role == .layerGradientNorm && alert.kind.isExplosion {
            let ratio = alert.kind == .nonfinite ? Double.infinity : (alert.ratio ?? 0)
            if originStep == nil || (originStep == step && ratio > originRatio) {
                originStep = step
                originRatio = ratio
                origin = alert.series
            }
        }
        for index in raised.indices { raised[index].origin = origin }
        let severityBefore = incidents[current].severity
        let brokenBefore = incidents[current].firstNonfiniteStep != nil
        incidents[current].add(raised, origin: origin)
        // This step's peak belongs in the event that reports it.
        notePeaks(values)
        if opening {
            events.append(IncidentEvent(change: .opened, step: step, incident: incidents[current]))
        } else if incidents[current].severity > severityBefore || (!brokenBefore && incidents[current].firstNonfiniteStep != nil) {
            // Worse: critical now, or NaN/Inf for the first time (the step to stop at).
            events.append(IncidentEvent(change: .escalated, step: step, incident: incidents[current]))
        }
    }

    /// The open incident's peak: the global norm's value (every layer's, when there is none).
    private mutating func notePeaks(_ values: [(SeriesID, Double)]) {
        let current = incidents.count - 1
        for (id, value) in values {
            let role = monitors[id.index].role
            if role == .globalGradientNorm || (!hasGlobalNorm && role == .layerGradientNorm) {
                incidents[current].notePeak(value, series: monitors[id.index].name)
            }
        }
    }

    /// Closes the open incident at `step` (every series back to normal, or the end of its segment).
    mutating func closeIncident(at step: Int64) {
        guard incidentOpen else { return }
        incidentOpen = false
        incidents[incidents.count - 1].closingStep = step
        events.append(IncidentEvent(change: .closed, step: step, incident: incidents[incidents.count - 1]))
    }

    /// The best progress of any loss series (the smallest recent/start ratio), nil when no loss
    /// series has a start yet. The collapse rule only fires when even the best loss is stuck.
    private func leastLossProgress() -> Double? {
        var best: Double?
        for index in lossMonitors {
            if let progress = monitors[index].lossProgress { best = min(best ?? progress, progress) }
        }
        return best
    }

    /// The largest early jump of a loss series among this step's values.
    private func largestLossJump(_ values: [(SeriesID, Double)]) -> SeriesMonitor.LossJump? {
        var largest: SeriesMonitor.LossJump?
        for (id, _) in values where monitors[id.index].role == .loss {
            if let jump = monitors[id.index].lastJump, jump.ratio > (largest?.ratio ?? -.infinity) { largest = jump }
        }
        return largest
    }

    private mutating func observe(step: Int64, wallTime: Double?, index: Int, value: Double, context: SeriesMonitor.StepContext, into raised: inout [Alert]) {
        let role = monitors[index].role
        if !value.isFinite {
            if role == .loss {
                if firstLossNonfinite == nil { firstLossNonfinite = step }
            } else if firstGradientNonfinite == nil {
                firstGradientNonfinite = step
            }
        }
        for var alert in monitors[index].observe(step: step, wallTime: wallTime, value: value, context: context) {
            alert.remedies = RemedyAdvisor.remedies(for: situation(of: alert, monitor: monitors[index], step: step))
            raised.append(alert)
        }
    }

    /// Whether a series name names a recurrent layer: "rnn", "lstm", "gru" or "recurrent" as a
    /// word of it (between non-letters), as PyTorch's, Keras' and our lab's layer names spell them.
    static func namesRecurrentLayer(_ name: String) -> Bool {
        let words = name.lowercased().split { !$0.isLetter }
        return words.contains { word in
            word == "rnn" || word == "lstm" || word == "gru" || word.hasPrefix("recurrent")
                || word.hasSuffix("rnn") || word.hasSuffix("lstm") || word.hasSuffix("gru")
        }
    }

    /// What the remedy advisor needs to know about an alert.
    private func situation(of alert: Alert, monitor: SeriesMonitor, step: Int64) -> RemedyAdvisor.Situation {
        let lossFirst = firstLossNonfinite.map { loss in firstGradientNonfinite.map { loss <= $0 } ?? true } ?? false
        // "At the start" means the first steps of training, not of a resumed segment.
        let started = firstStep ?? step
        let difference = step.subtractingReportingOverflow(started)
        let sinceStart = started <= 1 && !difference.overflow ? Int(clamping: difference.partialValue) : Int.max
        let spike = alert.kind == .spike
        return RemedyAdvisor.Situation(
            kind: alert.kind, role: alert.role,
            stepsSinceStart: sinceStart,
            lossFirst: lossFirst && alert.kind == .nonfinite,
            absurdScale: spike && monitor.spikeCause == .absoluteBound && sinceStart <= 2,
            firstUpdatesBroke: spike && monitor.spikeCause == .earlyWithLoss,
            clippingActive: clippedSeries != nil,
            recurrent: hasRecurrentLayers)
    }

    /// The series with an open episode now, and which kinds, in order of registration.
    public var openEpisodes: [(series: String, kinds: [AlertKind])] {
        monitors.compactMap { monitor in monitor.hasOpenEpisode ? (monitor.name, monitor.openKinds) : nil }
    }
}
