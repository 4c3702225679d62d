#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The spike rule: a value far above the robust baseline (median and MAD of recent values, in
/// log10 space), by a minimum ratio, above the series' own ceiling; with little history, only a
/// much larger jump, or a jump the loss confirms; and a gradient norm no healthy net has, at any
/// step. The cliffs rule (`SeriesMonitor+Cliffs.swift`) judges global norms beside it, on the same
/// baseline.
extension SeriesMonitor {
    /// A spike found: the log10 baseline it was judged against (nil for the absolute bound), the
    /// message, and what opened it.
    struct SpikeFinding {
        var baselineLog: Double?
        var message: String
        var cause: SpikeCause
    }

    mutating func evaluateSpike(_ point: Point, context: StepContext, into alerts: inout [Alert]) {
        guard point.value > 0 else {
            recover(.spike, normal: true)
            noteExcursion(false)
            return
        }
        if let episode = open[.spike] {
            continueSpike(episode, point)
            noteExcursion(false)
            return
        }
        var finding: SpikeFinding?
        if baseline.count >= configuration.spike.minHistory {
            let median = baseline.median
            updateCeilings(median: median)
            finding = robustSpike(point, median: median)
            if watchesCliffs { evaluateCliffs(point, median: median, spikeFired: finding != nil, context: context, into: &alerts) }
        } else {
            if !baseline.isEmpty { finding = earlySpike(point, context: context) }
            noteExcursion(false)
        }
        if finding == nil { finding = absurdScale(point) }
        guard let finding else {
            baseline.append(point.logValue)
            return
        }
        let base = finding.baselineLog.map { pow(10, $0) }
        let ratio = base.map { point.value / $0 } ?? configuration.spike.absoluteBound.map { point.value / $0 }
        openEpisode(.spike, .critical, at: point, baseline: base, ratio: ratio, message: finding.message,
                    baselineLog: finding.baselineLog, spikeCause: finding.cause, into: &alerts)
    }

    /// While a spike episode is open: a spike that has become the new level for a whole baseline
    /// window is a regime, not an episode, so a new baseline starts from here and later spikes
    /// alert again; otherwise the value counts towards closing the episode when it is back within
    /// `closeRatio` of the baseline it was judged against.
    private mutating func continueSpike(_ episode: OpenEpisodes.Episode, _ point: Point) {
        let rule = configuration.spike
        var episode = episode
        episode.pointsOpen += 1
        open[.spike] = episode
        if episode.pointsOpen >= rule.window {
            open[.spike] = nil
            baseline.removeAll()
            highestMedian = -.infinity
            if collapseCeiling > -.infinity { inSpikeRegime = true }
            baseline.append(point.logValue)
            return
        }
        let normal: Bool
        if let base = episode.baselineLog {
            normal = point.logValue - base <= log10(rule.closeRatio)
        } else {
            normal = point.value < (rule.absoluteBound ?? .infinity)
        }
        recover(.spike, normal: normal)
        if open[.spike] == nil, normal { baseline.append(point.logValue) }
    }

    /// With history: far above the baseline median by `minRatio`, above the ceiling, and by a
    /// robust z-score of `zScore`.
    private func robustSpike(_ point: Point, median: Double) -> SpikeFinding? {
        let rule = configuration.spike
        let x = point.logValue
        // The ratio and ceiling tests are cheap; the MAD is only worth computing when they pass.
        // (A cheap test in log space first: pow is only worth calling near or above the ratio.)
        guard x - median >= log10(rule.minRatio) - 1e-9, case let ratio = pow(10, x - median),
            ratio >= rule.minRatio, x - highestMedian >= log10(rule.minAboveCeiling)
        else { return nil }
        let z = robustZ(x, median: median)
        guard z >= rule.zScore else { return nil }
        return SpikeFinding(
            baselineLog: median,
            message: "\(name) = \(Self.format(point.value)) at step \(point.step) is \(Self.format(ratio))x its recent median \(Self.format(pow(10, median))) (robust z \(Self.format(z)))",
            cause: .baseline)
    }

    /// (log10 value − median) over the baseline's MAD (scaled to a standard deviation, floored).
    func robustZ(_ x: Double, median: Double) -> Double {
        let mad = 1.4826 * baseline.medianAbsoluteDeviation(from: median)
        return (x - median) / max(mad, configuration.spike.madFloor)
    }

    /// With fewer than `minHistory` earlier values: a jump of `earlyMinRatio` over their median;
    /// or, for a gradient norm, one of `minRatio` when a loss jumped by `earlyLossJump` at the same
    /// step — the first updates broke the model, and the loss says so before any history exists.
    private func earlySpike(_ point: Point, context: StepContext) -> SpikeFinding? {
        let rule = configuration.spike
        let median = baseline.median
        let ratio = pow(10, point.logValue - median)
        let earlier = baseline.count == 1 ? "its first value" : "the median of its first \(baseline.count) values"
        if ratio >= rule.earlyMinRatio {
            return SpikeFinding(
                baselineLog: median,
                message: "\(name) = \(Self.format(point.value)) at step \(point.step) is \(Self.format(ratio))x \(earlier)",
                cause: .early)
        }
        guard role.isGradient, let needed = rule.earlyLossJump, ratio >= rule.minRatio,
            let jump = context.lossJump, jump.ratio >= needed
        else { return nil }
        return SpikeFinding(
            baselineLog: median,
            message: "\(name) = \(Self.format(point.value)) at step \(point.step) is \(Self.format(ratio))x \(earlier), and the loss jumped with it (\(Self.format(jump.ratio))x its own, to \(Self.format(jump.ratio * jump.median))): the first updates blew the model up",
            cause: .earlyWithLoss)
    }

    /// A gradient norm at or above the absolute bound: absurd at any step, even the first.
    private func absurdScale(_ point: Point) -> SpikeFinding? {
        guard role.isGradient, let bound = configuration.spike.absoluteBound, point.value >= bound else { return nil }
        return SpikeFinding(
            baselineLog: nil,
            message: "\(name) = \(Self.format(point.value)) at step \(point.step): no healthy gradient is this large (bound \(Self.format(bound)))",
            cause: .absoluteBound)
    }

    /// Raises the ceilings with a new baseline median. The series' normal ceiling is the highest
    /// baseline median seen: a jump that stays below it (a norm that shrank as the loss
    /// converged, then bounced) is noise, not an explosion. The collapse rule's reference is the
    /// same ceiling, except that a level a spike forced (a regime that began with a spike) does
    /// not raise it until the series is back near its old ceiling; otherwise coming back down
    /// from an explosion would look like a collapse.
    private mutating func updateCeilings(median: Double) {
        highestMedian = max(highestMedian, median)
        if inSpikeRegime, median <= collapseCeiling + log10(configuration.spike.closeRatio) { inSpikeRegime = false }
        if !inSpikeRegime { collapseCeiling = max(collapseCeiling, median) }
    }
}
