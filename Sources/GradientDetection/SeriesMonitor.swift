#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The rules for one series, with the state each needs. `observe` judges a value against the past
/// and then lets it join the past; each rule lives in its own file (`SeriesMonitor+Spike.swift`,
/// `+Growth`, `+Bounds`, `+Floors`), with the state it keeps declared here, before the code.
struct SeriesMonitor {
    let name: String
    let role: SeriesRole
    let configuration: DetectorConfiguration

    // MARK: - State

    /// Open episodes, by kind.
    var open = OpenEpisodes()
    private(set) var points = 0
    /// Whether any finite value so far was non-zero (a parameter that never had a gradient is not
    /// vanishing or collapsed: it is unused).
    var everNonZero = false

    /// Spike rule: log10 of the last finite positive values outside spike episodes.
    var baseline: SlidingWindow
    /// log10 of the highest baseline median so far: the series' normal ceiling.
    var highestMedian = -Double.infinity
    /// What opened the last spike episode (the remedies depend on it).
    private(set) var spikeCause = SpikeCause.baseline

    /// Early corroboration, loss series: its first `spike.minHistory` positive values, and how far
    /// this step's value jumped over their median (nil when it did not come early enough).
    var earlyValues: [Double] = []
    private(set) var lastJump: LossJump?

    /// Cliffs rule, global norms: log10 of the first `cliffs.startValues` positive values; which of
    /// the last `spike.window` values began an excursion over the cliff line (a ring), how many
    /// did, and whether the last value was over the line.
    var startValues: [Double] = []
    var excursions: [Bool] = []
    var excursionHead = 0
    var excursionCount = 0
    var overCliffLine = false

    /// Growth rule: log10 of the last consecutive finite positive values.
    var recent: SlidingWindow

    /// Vanishing rule: consecutive values under the floor.
    var belowFloor = 0

    /// Collapse rule: log10 of the highest baseline median outside levels a spike forced.
    var collapseCeiling = -Double.infinity
    /// The spike baseline was restarted at a spike's level and has not come back near the old
    /// ceiling (so that level does not count as the usual one).
    var inSpikeRegime = false
    /// Which of the last `collapse.window` values had collapsed (a ring), and how many.
    var collapsedFlags: [Bool] = []
    var collapsedHead = 0
    var collapsedCount = 0
    /// Collapse rule, loss series: the last `collapse.window` finite values, and the median of
    /// the first `collapse.window`.
    var lossWindow: SlidingWindow?
    var lossStartMedian: Double?

    init(name: String, role: SeriesRole, configuration: DetectorConfiguration) {
        self.name = name
        self.role = role
        self.configuration = configuration
        baseline = SlidingWindow(capacity: configuration.spike.window)
        recent = SlidingWindow(capacity: configuration.growth.window)
        if role == .loss { lossWindow = SlidingWindow(capacity: max(1, configuration.collapse.window)) }
    }

    var hasOpenEpisode: Bool { !open.isEmpty }
    var openKinds: [AlertKind] { open.kinds }

    /// Whether the spike and non-finite rules look at this series (a loss only when asked to).
    var watchesSpikes: Bool { role != .loss || configuration.watchLoss }
    /// Whether this series is a norm (the growth, vanishing and collapse rules apply to norms).
    var isNorm: Bool { role == .globalGradientNorm || role == .layerGradientNorm }

    /// Whether the cliffs rule watches this series (global norms; it builds on the spike rule).
    var watchesCliffs: Bool { role == .globalGradientNorm && configuration.cliffs.enabled && configuration.spike.enabled }

    /// For a loss series: the median of its last `collapse.window` finite values over the median
    /// of its first, once it has had that many (nil before, or when the start is not positive).
    var lossProgress: Double? {
        guard let start = lossStartMedian, start > 0, let window = lossWindow else { return nil }
        return window.median / start
    }

    // MARK: - Observing

    /// What the rules of one series need to know about the rest of its step: the run's loss
    /// progress (collapse), how far a loss jumped (the early spike test), whether clipping is on.
    struct StepContext {
        /// The best progress of any loss series (see `lossProgress`).
        var lossProgress: Double?
        /// The largest early jump of a loss series at this step.
        var lossJump: LossJump?
        /// The post-clip norm series, when one is logged: clipping is active.
        var clippedSeries: String?
    }

    /// How far a loss value jumped over the median of its first values.
    struct LossJump {
        var ratio: Double
        var median: Double
    }

    /// What opened a spike episode.
    enum SpikeCause {
        /// Far above the robust baseline of a series with history.
        case baseline
        /// In the first values: a jump of `earlyMinRatio`.
        case early
        /// In the first values: a jump of `minRatio` that a loss jump at the same step confirms.
        case earlyWithLoss
        /// No healthy gradient is this large.
        case absoluteBound
    }

    /// Evaluates `value` at `step` against the past, then lets it join the past. Returns the alerts
    /// of the episodes that open here (without remedies or origin: the detector adds those).
    mutating func observe(step: Int64, wallTime: Double?, value: Double, context: StepContext = StepContext()) -> [Alert] {
        points += 1
        var alerts: [Alert] = []
        guard value.isFinite else {
            if role == .loss { lastJump = nil }
            observeNonFinite(step: step, wallTime: wallTime, value: value, into: &alerts)
            return alerts
        }
        recover(.nonfinite, normal: true)
        if value != 0 { everNonZero = true }
        if lossWindow != nil {
            lossWindow!.append(value)
            if lossStartMedian == nil, lossWindow!.count == configuration.collapse.window { lossStartMedian = lossWindow!.median }
        }
        if role == .loss { noteEarlyLoss(value) }
        let logValue = value > 0 ? log10(value) : -Double.infinity
        let point = Point(step: step, wallTime: wallTime, value: value, logValue: logValue)

        if configuration.spike.enabled, watchesSpikes { evaluateSpike(point, context: context, into: &alerts) }
        if watchesCliffs, value > 0, startValues.count < configuration.cliffs.startValues { startValues.append(logValue) }
        // The growth window follows every positive value, whether or not the rule is on.
        if value > 0 { recent.append(logValue) } else { recent.removeAll() }
        if configuration.growth.enabled, isNorm { evaluateGrowth(point, into: &alerts) }
        evaluateThresholds(point, into: &alerts)
        if configuration.vanishing.enabled, isNorm { evaluateVanishing(point, into: &alerts) }
        if configuration.collapse.enabled, isNorm, configuration.collapse.window > 0 {
            evaluateCollapse(point, lossProgress: context.lossProgress, into: &alerts)
        }
        return alerts
    }

    /// A loss series remembers its first `spike.minHistory` positive values, and how far each of
    /// them jumped over the median of the ones before (read by the gradient norms of the same
    /// step, which the detector looks at after the losses).
    private mutating func noteEarlyLoss(_ value: Double) {
        lastJump = nil
        let early = configuration.spike.minHistory
        guard value > 0, earlyValues.count < early else { return }
        if !earlyValues.isEmpty {
            let median = Self.median(of: earlyValues)
            lastJump = LossJump(ratio: value / median, median: median)
        }
        earlyValues.append(value)
    }

    static func median(of values: [Double]) -> Double {
        let sorted = values.sorted()
        let n = sorted.count
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }

    /// One finite value being judged, with its log10 (−∞ for 0).
    struct Point {
        var step: Int64
        var wallTime: Double?
        var value: Double
        var logValue: Double
    }

    /// A NaN or ±Inf value: critical, once per episode; it also breaks the growth fit and the
    /// run under the vanishing floor.
    private mutating func observeNonFinite(step: Int64, wallTime: Double?, value: Double, into alerts: inout [Alert]) {
        if watchesSpikes, open[.nonfinite] == nil {
            open[.nonfinite] = OpenEpisodes.Episode(severity: .critical)
            let what = value.isNaN ? "NaN" : (value > 0 ? "+Inf" : "-Inf")
            alerts.append(alert(.nonfinite, .critical, step, wallTime, value, nil, nil, "\(name) is \(what) at step \(step)"))
        }
        open[.nonfinite]?.normalRun = 0
        recent.removeAll()
        belowFloor = 0
    }

    /// Opens an episode of `kind` and records its alert.
    mutating func openEpisode(
        _ kind: AlertKind, _ severity: Severity, at point: Point, baseline: Double?, ratio: Double?,
        message: String, baselineLog: Double? = nil, spikeCause: SpikeCause = .baseline, into alerts: inout [Alert]
    ) {
        open[kind] = OpenEpisodes.Episode(severity: severity, baselineLog: baselineLog)
        if kind == .spike { self.spikeCause = spikeCause }
        alerts.append(alert(kind, severity, point.step, point.wallTime, point.value, baseline, ratio, message))
    }

    /// Counts a normal (or not) point towards closing the episode of `kind`.
    mutating func recover(_ kind: AlertKind, normal: Bool) {
        guard var episode = open[kind] else { return }
        if normal {
            episode.normalRun += 1
            if episode.normalRun >= configuration.recoveryPoints {
                open[kind] = nil
                return
            }
        } else {
            episode.normalRun = 0
        }
        open[kind] = episode
    }

    private func alert(
        _ kind: AlertKind, _ severity: Severity, _ step: Int64, _ wallTime: Double?, _ value: Double,
        _ baseline: Double?, _ ratio: Double?, _ message: String
    ) -> Alert {
        Alert(kind: kind, severity: severity, series: name, role: role, step: step, wallTime: wallTime,
              value: value, baseline: baseline, ratio: ratio, message: message)
    }

    /// Numbers in messages.
    static func format(_ value: Double) -> String { NumberFormat.short(value) }
}
