#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The rules for one series, with the state each needs: a robust baseline window, a growth
/// window, and which episodes are open.
struct SeriesMonitor {
    let name: String
    let role: SeriesRole
    private let configuration: DetectorConfiguration

    /// log10 of the last finite positive values outside spike episodes: the spike baseline.
    private var baseline: SlidingWindow
    /// log10 of the last consecutive finite positive values: the growth fit.
    private var recent: SlidingWindow
    private(set) var firstStep: Int64?
    private(set) var points = 0
    private var everNonZero = false
    private var belowFloor = 0
    /// Collapse rule, norm series: which of the last `collapse.window` values had collapsed.
    private var collapsedFlags: [Bool] = []
    private var collapsedHead = 0
    private var collapsedCount = 0
    /// Collapse rule, loss series: the last `collapse.window` finite values, and the median of
    /// the first `collapse.window`.
    private var lossWindow: SlidingWindow?
    private var lossStartMedian: Double?

    /// Open episodes, by kind, with the state that decides when each closes.
    private var open = OpenEpisodes()

    /// One slot per alert kind: looked up on every point, so a fixed table rather than a hash.
    struct OpenEpisodes {
        private var slots: (Episode?, Episode?, Episode?, Episode?, Episode?, Episode?) = (nil, nil, nil, nil, nil, nil)
        private(set) var count = 0

        var isEmpty: Bool { count == 0 }

        subscript(kind: AlertKind) -> Episode? {
            get {
                switch kind {
                case .nonfinite: slots.0
                case .spike: slots.1
                case .growth: slots.2
                case .threshold: slots.3
                case .vanishing: slots.4
                case .collapse: slots.5
                }
            }
            set {
                let had = self[kind] != nil
                switch kind {
                case .nonfinite: slots.0 = newValue
                case .spike: slots.1 = newValue
                case .growth: slots.2 = newValue
                case .threshold: slots.3 = newValue
                case .vanishing: slots.4 = newValue
                case .collapse: slots.5 = newValue
                }
                count += (newValue != nil ? 1 : 0) - (had ? 1 : 0)
            }
        }

        /// The kinds with an open episode, in `AlertKind` order.
        var kinds: [AlertKind] { AlertKind.allCases.filter { self[$0] != nil } }
    }

    struct Episode {
        var severity: Severity
        /// log10 of the baseline the spike was measured against (nil: judged on the absolute bound).
        var baselineLog: Double?
        var normalRun = 0
        var pointsOpen = 0
    }

    init(name: String, role: SeriesRole, configuration: DetectorConfiguration) {
        self.name = name
        self.role = role
        self.configuration = configuration
        baseline = SlidingWindow(capacity: configuration.spike.window)
        recent = SlidingWindow(capacity: configuration.growth.window)
        if role == .loss { lossWindow = SlidingWindow(capacity: max(1, configuration.collapse.window)) }
    }

    /// For a loss series: the median of its last `collapse.window` finite values over the median
    /// of its first, once it has had that many (nil before, or when the start is not positive).
    var lossProgress: Double? {
        guard let start = lossStartMedian, start > 0, let window = lossWindow else { return nil }
        return window.median / start
    }

    var hasOpenEpisode: Bool { !open.isEmpty }
    var openKinds: [AlertKind] { open.kinds }

    /// Evaluates `value` at `step` against the past, then lets it join the past. Returns the alerts
    /// of the episodes that open here (without remedies or origin: the detector adds those).
    /// `lossProgress` is the run's loss progress (see `lossProgress`), for the collapse rule.
    mutating func observe(step: Int64, wallTime: Double?, value: Double, lossProgress: Double? = nil) -> [Alert] {
        if firstStep == nil { firstStep = step }
        points += 1
        var alerts: [Alert] = []
        let watchesSpikes = role != .loss || configuration.watchLoss
        let isNorm = role == .globalGradientNorm || role == .layerGradientNorm

        // Non-finite values.
        if !value.isFinite {
            if watchesSpikes, open[.nonfinite] == nil {
                open[.nonfinite] = Episode(severity: .critical)
                let what = value.isNaN ? "NaN" : (value > 0 ? "+Inf" : "-Inf")
                alerts.append(alert(.nonfinite, .critical, step, wallTime, value, nil, nil,
                                    "\(name) is \(what) at step \(step)"))
            }
            open[.nonfinite]?.normalRun = 0
            recent.removeAll()
            belowFloor = 0
            return alerts
        }
        recover(.nonfinite, normal: true)
        if value != 0 { everNonZero = true }
        if lossWindow != nil {
            lossWindow!.append(value)
            if lossStartMedian == nil, lossWindow!.count == configuration.collapse.window { lossStartMedian = lossWindow!.median }
        }
        let logValue = value > 0 ? log10(value) : -Double.infinity

        // Spikes: far above the robust baseline, or absurd on any scale.
        if configuration.spike.enabled, watchesSpikes {
            alerts += evaluateSpike(step: step, wallTime: wallTime, value: value, x: logValue)
        }

        // Sustained growth of a norm.
        if value > 0 { recent.append(logValue) } else { recent.removeAll() }
        if configuration.growth.enabled, isNorm {
            let aboveUsual = baseline.count < configuration.spike.minHistory || value <= 0
                || logValue - baseline.median >= log10(configuration.growth.minAboveBaseline)
            if aboveUsual, let (rise, fit) = growthSignal() {
                if open[.growth] == nil {
                    open[.growth] = Episode(severity: .warning)
                    let factor = pow(10, rise)
                    let first = pow(10, recent.values.first ?? 0)
                    alerts.append(alert(.growth, .warning, step, wallTime, value, first, factor,
                                        "\(name) grew \(Self.format(factor))x over the last \(recent.count) points (steady exponential growth, fit R² \(Self.format(fit)))"))
                }
                open[.growth]?.normalRun = 0
            } else {
                recover(.growth, normal: true)
            }
        }

        // User bounds.
        for rule in configuration.thresholds where rule.roles.contains(role) && (rule.series?.contains(name) ?? true) {
            var severity: Severity?
            var bound = 0.0
            if let critical = rule.critical, value >= critical {
                severity = .critical
                bound = critical
            } else if let warning = rule.warning, value >= warning {
                severity = .warning
                bound = warning
            }
            if let severity {
                if let existing = open[.threshold], existing.severity >= severity {
                    open[.threshold]?.normalRun = 0
                } else {
                    open[.threshold] = Episode(severity: severity)
                    alerts.append(alert(.threshold, severity, step, wallTime, value, bound, value / bound,
                                        "\(name) = \(Self.format(value)) at step \(step), above the \(severity.rawValue) bound \(Self.format(bound))"))
                }
            } else {
                recover(.threshold, normal: true)
            }
        }

        // Vanishing norms: under the floor for a whole window (a parameter that never had a
        // non-zero gradient gets none at all, which is another matter, and is left alone).
        if configuration.vanishing.enabled, isNorm {
            if value < configuration.vanishing.floor {
                belowFloor += 1
                if belowFloor >= configuration.vanishing.window, everNonZero, open[.vanishing] == nil {
                    open[.vanishing] = Episode(severity: .warning)
                    alerts.append(alert(.vanishing, .warning, step, wallTime, value, configuration.vanishing.floor, nil,
                                        "\(name) has stayed below \(Self.format(configuration.vanishing.floor)) for \(belowFloor) points"))
                }
                open[.vanishing]?.normalRun = 0
            } else {
                belowFloor = 0
                recover(.vanishing, normal: true)
            }
        }

        // Collapse: most recent values far below the series' own ceiling, the loss not moving.
        let collapse = configuration.collapse
        if collapse.enabled, isNorm, collapse.window > 0 {
            let ceiling = collapseCeiling
            let collapsed = ceiling > -.infinity && (value == 0 || logValue < ceiling - collapse.decades)
            if collapsedFlags.count < collapse.window {
                collapsedFlags.append(collapsed)
            } else {
                if collapsedFlags[collapsedHead] { collapsedCount -= 1 }
                collapsedFlags[collapsedHead] = collapsed
                collapsedHead = (collapsedHead + 1) % collapse.window
            }
            if collapsed { collapsedCount += 1 }
            let needed = max(1, Int((collapse.fraction * Double(collapse.window)).rounded(.up)))
            let enough = collapsedFlags.count == collapse.window && collapsedCount >= needed
            if enough, let progress = lossProgress, progress >= collapse.lossProgress, everNonZero, open[.collapse] == nil {
                open[.collapse] = Episode(severity: .warning)
                let usual = pow(10, ceiling)
                alerts.append(alert(.collapse, .warning, step, wallTime, value, usual, value / usual,
                                    "\(name) collapsed: \(collapsedCount) of its last \(collapse.window) values are 0 or over \(Self.format(pow(10, collapse.decades)))x below its usual level \(Self.format(usual)), and the loss is at \(Self.format(progress * 100))% of where it started"))
            }
            // Hysteresis on the window itself: the episode closes only once fewer than half of the
            // last values have collapsed, so a layer that twitches back for a few steps now and
            // then does not alert again and again.
            if open[.collapse] != nil, collapsedCount * 2 < collapse.window { open[.collapse] = nil }
        }
        return alerts
    }

    /// `x` is log10(value) (for positive values).
    private mutating func evaluateSpike(step: Int64, wallTime: Double?, value: Double, x: Double) -> [Alert] {
        let rule = configuration.spike
        var alerts: [Alert] = []
        guard value > 0 else {
            recover(.spike, normal: true)
            return alerts
        }
        if var episode = open[.spike] {
            // A spike that has become the new level for a whole baseline window is a regime, not
            // an episode: start a new baseline from here, so later spikes alert again.
            episode.pointsOpen += 1
            open[.spike] = episode
            if episode.pointsOpen >= rule.window {
                open[.spike] = nil
                baseline.removeAll()
                highestMedian = -.infinity
                if collapseCeiling > -.infinity { inSpikeRegime = true }
                baseline.append(x)
                return alerts
            }
            // Open: does the value count as back to normal?
            let normal: Bool
            if let base = episode.baselineLog {
                normal = x - base <= log10(rule.closeRatio)
            } else {
                normal = value < (rule.absoluteBound ?? .infinity)
            }
            recover(.spike, normal: normal)
            if open[.spike] == nil, normal { baseline.append(x) }
            return alerts
        }
        var fired: (baselineLog: Double?, message: String)?
        if baseline.count >= rule.minHistory {
            let median = baseline.median
            // The series' normal ceiling: the highest baseline median seen. A jump that stays
            // below it (a norm that shrank as the loss converged, then bounced) is noise, not an
            // explosion.
            highestMedian = max(highestMedian, median)
            // The collapse rule's reference: the same ceiling, except that a level a spike
            // forced (a regime that began with a spike) does not raise it until the series is
            // back near its old ceiling; otherwise coming back down from an explosion would look
            // like a collapse.
            if inSpikeRegime, median <= collapseCeiling + log10(rule.closeRatio) { inSpikeRegime = false }
            if !inSpikeRegime { collapseCeiling = max(collapseCeiling, median) }
            // The ratio and ceiling tests are cheap; the MAD is only worth computing when they pass.
            // (A cheap test in log space first: pow is only worth calling near or above the ratio.)
            if x - median >= log10(rule.minRatio) - 1e-9, case let ratio = pow(10, x - median),
                ratio >= rule.minRatio, x - highestMedian >= log10(rule.minAboveCeiling) {
                let mad = 1.4826 * baseline.medianAbsoluteDeviation(from: median)
                let z = (x - median) / max(mad, rule.madFloor)
                if z >= rule.zScore {
                    fired = (median, "\(name) = \(Self.format(value)) at step \(step) is \(Self.format(ratio))x its recent median \(Self.format(pow(10, median))) (robust z \(Self.format(z)))")
                }
            }
        } else if !baseline.isEmpty {
            let median = baseline.median
            let ratio = pow(10, x - median)
            if ratio >= rule.earlyMinRatio {
                fired = (median, "\(name) = \(Self.format(value)) at step \(step) is \(Self.format(ratio))x the median of its first \(baseline.count) points")
            }
        }
        if fired == nil, role.isGradient, let bound = rule.absoluteBound, value >= bound {
            fired = (nil, "\(name) = \(Self.format(value)) at step \(step): no healthy gradient is this large (bound \(Self.format(bound)))")
        }
        if let fired {
            open[.spike] = Episode(severity: .critical, baselineLog: fired.baselineLog)
            let base = fired.baselineLog.map { pow(10, $0) }
            let ratio = base.map { value / $0 } ?? rule.absoluteBound.map { value / $0 }
            alerts.append(alert(.spike, .critical, step, wallTime, value, base, ratio, fired.message))
            absurdAtOpen = fired.baselineLog == nil
        } else {
            baseline.append(x)
        }
        return alerts
    }

    /// log10 of the highest baseline median so far.
    private var highestMedian = -Double.infinity
    /// log10 of the highest baseline median outside levels forced by a spike (collapse rule).
    private var collapseCeiling = -Double.infinity
    /// The baseline was restarted at a spike's level and has not come back near the old ceiling.
    private var inSpikeRegime = false

    /// Whether the last spike opened on the absolute bound rather than a baseline.
    private(set) var absurdAtOpen = false

    /// (rise in decades, R²) when the growth window shows steady exponential growth.
    private func growthSignal() -> (Double, Double)? {
        let rule = configuration.growth
        guard recent.count >= rule.window, rule.window >= 3 else { return nil }
        let y = recent.values
        let n = Double(y.count)
        let meanX = (n - 1) / 2
        let meanY = y.reduce(0, +) / n
        var sxy = 0.0
        var sxx = 0.0
        var syy = 0.0
        var increases = 0
        for (index, value) in y.enumerated() {
            let dx = Double(index) - meanX
            let dy = value - meanY
            sxy += dx * dy
            sxx += dx * dx
            syy += dy * dy
            if index > 0, value > y[index - 1] { increases += 1 }
        }
        guard sxx > 0, syy > 0 else { return nil }
        let slope = sxy / sxx
        let rise = slope * (n - 1)
        let fit = (sxy * sxy) / (sxx * syy)
        guard rise >= log10(rule.minFactor), fit >= rule.minFit,
            Double(increases) / (n - 1) >= rule.minIncreasingFraction
        else { return nil }
        return (rise, fit)
    }

    /// Counts a normal (or not) point towards closing the episode of `kind`.
    private mutating func recover(_ kind: AlertKind, normal: Bool) {
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

    /// Three significant digits, scientific where that is shorter.
    static func format(_ value: Double) -> String {
        if !value.isFinite { return value.isNaN ? "NaN" : (value > 0 ? "Inf" : "-Inf") }
        let magnitude = Swift.abs(value)
        if magnitude != 0 && (magnitude >= 1e5 || magnitude < 1e-3) {
            let exponent = Int(floor(log10(magnitude)))
            let mantissa = value / pow(10, Double(exponent))
            return "\(round3(mantissa))e\(exponent)"
        }
        return "\(round3(value))"
    }

    /// Three significant digits.
    private static func round3(_ value: Double) -> String {
        let magnitude = Swift.abs(value)
        guard magnitude > 0 else { return "0" }
        let decimals = max(0, 2 - Int(floor(log10(magnitude))))
        let scale = pow(10, Double(decimals))
        let rounded = (value * scale).rounded() / scale
        if decimals == 0 { return String(Int(rounded)) }
        var text = String(rounded)
        if text.contains("e") { return text }
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}
