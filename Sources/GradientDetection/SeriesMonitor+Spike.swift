#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The spike rule: a value far above the robust baseline (median and MAD of recent values, in
/// log10 space), by a minimum ratio, above the series' own ceiling; with little history, only a
/// much larger jump; and a gradient norm no healthy net has, at any step.
extension SeriesMonitor {
    mutating func evaluateSpike(_ point: Point, into alerts: inout [Alert]) {
        guard point.value > 0 else {
            recover(.spike, normal: true)
            return
        }
        if let episode = open[.spike] {
            continueSpike(episode, point)
            return
        }
        if let finding = spikeFinding(point) {
            let rule = configuration.spike
            let base = finding.baselineLog.map { pow(10, $0) }
            let ratio = base.map { point.value / $0 } ?? rule.absoluteBound.map { point.value / $0 }
            openEpisode(.spike, .critical, at: point, baseline: base, ratio: ratio, message: finding.message,
                        baselineLog: finding.baselineLog, into: &alerts)
        } else {
            baseline.append(point.logValue)
        }
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

    /// Whether `point` is a spike, judged against the baseline (or, with none, the absolute
    /// bound): the log10 baseline it was compared with (nil for the bound) and the message.
    private mutating func spikeFinding(_ point: Point) -> (baselineLog: Double?, message: String)? {
        let rule = configuration.spike
        let x = point.logValue
        let value = Self.format(point.value)
        if baseline.count >= rule.minHistory {
            let median = baseline.median
            updateCeilings(median: median)
            // The ratio and ceiling tests are cheap; the MAD is only worth computing when they pass.
            // (A cheap test in log space first: pow is only worth calling near or above the ratio.)
            if x - median >= log10(rule.minRatio) - 1e-9, case let ratio = pow(10, x - median),
                ratio >= rule.minRatio, x - highestMedian >= log10(rule.minAboveCeiling)
            {
                let mad = 1.4826 * baseline.medianAbsoluteDeviation(from: median)
                let z = (x - median) / max(mad, rule.madFloor)
                if z >= rule.zScore {
                    return (median, "\(name) = \(value) at step \(point.step) is \(Self.format(ratio))x its recent median \(Self.format(pow(10, median))) (robust z \(Self.format(z)))")
                }
            }
        } else if !baseline.isEmpty {
            let median = baseline.median
            let ratio = pow(10, x - median)
            if ratio >= rule.earlyMinRatio {
                return (median, "\(name) = \(value) at step \(point.step) is \(Self.format(ratio))x the median of its first \(baseline.count) points")
            }
        }
        if role.isGradient, let bound = rule.absoluteBound, point.value >= bound {
            return (nil, "\(name) = \(value) at step \(point.step): no healthy gradient is this large (bound \(Self.format(bound)))")
        }
        return nil
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
