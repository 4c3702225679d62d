#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The rules for norms that fall: vanishing (under an absolute floor for a whole window) and
/// collapse (far below the series' own usual level while the loss makes no progress).
extension SeriesMonitor {
    /// Under the floor for a whole window. A parameter that never had a non-zero gradient gets
    /// none at all, which is another matter, and is left alone.
    mutating func evaluateVanishing(_ point: Point, into alerts: inout [Alert]) {
        let rule = configuration.vanishing
        guard point.value < rule.floor else {
            belowFloor = 0
            recover(.vanishing, normal: true)
            return
        }
        belowFloor += 1
        if belowFloor >= rule.window, everNonZero, open[.vanishing] == nil {
            openEpisode(.vanishing, .warning, at: point, baseline: rule.floor, ratio: nil,
                        message: "\(name) has stayed below \(Self.format(rule.floor)) for \(belowFloor) points", into: &alerts)
        }
        open[.vanishing]?.normalRun = 0
    }

    /// Most recent values far below the series' own ceiling (`collapseCeiling`), the loss not
    /// moving (`lossProgress`, from the detector: the best of the run's loss series).
    mutating func evaluateCollapse(_ point: Point, lossProgress: Double?, into alerts: inout [Alert]) {
        let rule = configuration.collapse
        let ceiling = collapseCeiling
        let collapsed = ceiling > -.infinity && (point.value == 0 || point.logValue < ceiling - rule.decades)
        if collapsedFlags.count < rule.window {
            collapsedFlags.append(collapsed)
        } else {
            if collapsedFlags[collapsedHead] { collapsedCount -= 1 }
            collapsedFlags[collapsedHead] = collapsed
            collapsedHead = (collapsedHead + 1) % rule.window
        }
        if collapsed { collapsedCount += 1 }
        let needed = max(1, Int((rule.fraction * Double(rule.window)).rounded(.up)))
        let enough = collapsedFlags.count == rule.window && collapsedCount >= needed
        if enough, let progress = lossProgress, progress >= rule.lossProgress, everNonZero, open[.collapse] == nil {
            let usual = pow(10, ceiling)
            openEpisode(.collapse, .warning, at: point, baseline: usual, ratio: point.value / usual,
                        message: "\(name) collapsed: \(collapsedCount) of its last \(rule.window) values are 0 or over \(Self.format(pow(10, rule.decades)))x below its usual level \(Self.format(usual)), and the loss is at \(Self.format(progress * 100))% of where it started",
                        into: &alerts)
        }
        // Hysteresis on the window itself: the episode closes only once fewer than half of the
        // last values have collapsed, so a layer that twitches back for a few steps now and then
        // does not alert again and again.
        if open[.collapse] != nil, collapsedCount * 2 < rule.window { open[.collapse] = nil }
    }
}
