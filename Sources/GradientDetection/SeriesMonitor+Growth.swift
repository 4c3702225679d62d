#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The growth rule: log10 of a norm rising along a straight line over a window (sustained
/// exponential growth, the early warning), ending above the series' usual level.
extension SeriesMonitor {
    mutating func evaluateGrowth(_ point: Point, into alerts: inout [Alert]) {
        let rule = configuration.growth
        let aboveUsual = baseline.count < configuration.spike.minHistory || point.value <= 0
            || point.logValue - baseline.median >= log10(rule.minAboveBaseline)
        guard aboveUsual, let (rise, fit) = growthSignal() else {
            recover(.growth, normal: true)
            return
        }
        if open[.growth] == nil {
            let factor = pow(10, rise)
            let first = pow(10, recent.values.first ?? 0)
            openEpisode(.growth, .warning, at: point, baseline: first, ratio: factor,
                        message: "\(name) grew \(Self.format(factor))x over the last \(recent.count) points (steady exponential growth, fit R² \(Self.format(fit)))",
                        into: &alerts)
        }
        open[.growth]?.normalRun = 0
    }

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
}
