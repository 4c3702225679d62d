#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The cliffs rule (`CliffsRule`): a global norm that keeps jumping to `spike.minRatio` times its
/// usual level is exploding, however noisy it is — the robust spike test alone cannot say so, since
/// the cliffs themselves widen its baseline.
extension SeriesMonitor {
    /// Judges a value of a global norm with history (`median`: the spike baseline's, in log10),
    /// after the spike rule has (`spikeFired`).
    mutating func evaluateCliffs(_ point: Point, median: Double, spikeFired: Bool, context: StepContext, into alerts: inout [Alert]) {
        let rule = configuration.cliffs
        let startLevel = startValues.isEmpty ? median : Self.median(of: startValues)
        let reference = min(median, startLevel)
        let lineRatio = configuration.spike.minRatio
        // Over the line: `lineRatio` times the usual level. A cliff must also reach the series'
        // ceiling; an excursion lasts while values stay over the line, so a level that rose and
        // stays there is one excursion, however it wiggles about the ceiling.
        let overLine = point.logValue - reference >= log10(lineRatio) - 1e-9
        let cliff = overLine && point.logValue - highestMedian >= log10(configuration.spike.minAboveCeiling)
        let excursion = cliff && !overCliffLine
        noteExcursion(overLine, begins: excursion)
        guard excursion, !spikeFired, excursionCount >= rule.count, open[.cliffs] == nil else { return }
        let level = reference == median
            ? "its usual level \(Self.format(pow(10, median))) (median of its last \(baseline.count) values)"
            : "its starting level \(Self.format(pow(10, reference))) (median of its first \(startValues.count) values; recent median \(Self.format(pow(10, median))))"
        var message = "\(name) = \(Self.format(point.value)) at step \(point.step) is \(Self.format(pow(10, point.logValue - reference)))x \(level): "
            + "the \(Self.ordinal(excursionCount)) jump over \(Self.format(lineRatio))x in its last \(valuesSinceFirstExcursion) values. "
            + "Repeated cliffs: the gradients keep exploding, in a series too noisy for the spike test (robust z \(Self.format(robustZ(point.logValue, median: median))))"
        if let clipped = context.clippedSeries {
            message += "; clipping is active (\(clipped) is logged): it caps the updates, not the gradients"
        }
        let reached = pow(10, point.logValue - reference)
        openEpisode(.cliffs, .critical, at: point, baseline: pow(10, reference), ratio: reached, message: message, baselineLog: reference, into: &alerts)
    }

    /// Records whether the value just judged is over the cliff line, and whether an excursion
    /// begins with it; the episode closes once no excursion is left in the window.
    mutating func noteExcursion(_ overLine: Bool, begins: Bool = false) {
        guard watchesCliffs else { return }
        let window = max(1, configuration.spike.window)
        overCliffLine = overLine
        if excursions.count < window {
            excursions.append(begins)
        } else {
            if excursions[excursionHead] { excursionCount -= 1 }
            excursions[excursionHead] = begins
            excursionHead = (excursionHead + 1) % window
        }
        if begins { excursionCount += 1 }
        if open[.cliffs] != nil, excursionCount == 0 { open[.cliffs] = nil }
    }

    /// How many values back (this one included) the oldest excursion in the window began.
    private var valuesSinceFirstExcursion: Int {
        let n = excursions.count
        let oldest = excursions.count < max(1, configuration.spike.window) ? 0 : excursionHead
        for age in 0..<n where excursions[(oldest + age) % n] { return n - age }
        return 0
    }

    static func ordinal(_ n: Int) -> String {
        switch n {
        case 1: "1st"
        case 2: "2nd"
        case 3: "3rd"
        default: "\(n)th"
        }
    }
}
