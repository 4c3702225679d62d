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
    /// Whether the open spike episode opened on the absolute bound rather than a baseline.
    private(set) var absurdAtOpen = false

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

    /// For a loss series: the median of its last `collapse.window` finite values over the median
    /// of its first, once it has had that many (nil before, or when the start is not positive).
    var lossProgress: Double? {
        guard let start = lossStartMedian, start > 0, let window = lossWindow else { return nil }
        return window.median / start
    }

    // MARK: - Observing

    /// Evaluates `value` at `step` against the past, then lets it join the past. Returns the alerts
    /// of the episodes that open here (without remedies or origin: the detector adds those).
    /// `lossProgress` is the run's loss progress (see `lossProgress`), for the collapse rule.
    mutating func observe(step: Int64, wallTime: Double?, value: Double, lossProgress: Double? = nil) -> [Alert] {
        points += 1
        var alerts: [Alert] = []
        guard value.isFinite else {
            observeNonFinite(step: step, wallTime: wallTime, value: value, into: &alerts)
            return alerts
        }
        recover(.nonfinite, normal: true)
        if value != 0 { everNonZero = true }
        if lossWindow != nil {
            lossWindow!.append(value)
            if lossStartMedian == nil, lossWindow!.count == configuration.collapse.window { lossStartMedian = lossWindow!.median }
        }
        let logValue = value > 0 ? log10(value) : -Double.infinity
        let point = Point(step: step, wallTime: wallTime, value: value, logValue: logValue)

        if configuration.spike.enabled, watchesSpikes { evaluateSpike(point, into: &alerts) }
        // The growth window follows every positive value, whether or not the rule is on.
        if value > 0 { recent.append(logValue) } else { recent.removeAll() }
        if configuration.growth.enabled, isNorm { evaluateGrowth(point, into: &alerts) }
        evaluateThresholds(point, into: &alerts)
        if configuration.vanishing.enabled, isNorm { evaluateVanishing(point, into: &alerts) }
        if configuration.collapse.enabled, isNorm, configuration.collapse.window > 0 {
            evaluateCollapse(point, lossProgress: lossProgress, into: &alerts)
        }
        return alerts
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
        message: String, baselineLog: Double? = nil, into alerts: inout [Alert]
    ) {
        open[kind] = OpenEpisodes.Episode(severity: severity, baselineLog: baselineLog)
        if kind == .spike { absurdAtOpen = baselineLog == nil }
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
