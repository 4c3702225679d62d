import Foundation
import GradientDetection

/// Steps to x: a run's first step at the plot's left edge, its last at the right edge. Every chart
/// of a run uses the same one.
struct StepScale {
    /// The steps at the two edges (the last one more than the first: a run of one step gets one
    /// step of room).
    let first: Double
    let last: Double
    let left: Double
    let right: Double

    init(first: Int64, last: Int64, left: Int = ChartLayout.left, width: Int = ChartLayout.plotWidth) {
        self.first = Double(first)
        self.last = last > first ? Double(last) : Double(first) + 1
        self.left = Double(left)
        self.right = Double(left + width)
    }

    func x(_ step: Int64) -> Double { x(Double(step)) }

    func x(_ step: Double) -> Double {
        left + (step - first) / (last - first) * (right - left)
    }

    /// The column, `columnWidth` pixels wide, that a step falls in: 0 at the left edge, the last
    /// column for the last step.
    func column(_ step: Int64, columnWidth: Int = 1) -> Int {
        let count = max(1, Int(right - left) / columnWidth)
        let offset = ((x(step) - left) / Double(columnWidth)).rounded(.down)
        guard offset.isFinite else { return 0 }
        return Int(min(max(offset, 0), Double(count - 1)))
    }

    /// About `count` round steps to label (multiples of 1, 2 or 5 × 10^k).
    func ticks(count: Int = 8) -> [Double] {
        Ticks.linear(from: first, to: last, count: count)
    }

    /// "first last left right", for the `data-x` attribute tests and checks read.
    var attribute: String { "\(first) \(last) \(left) \(right)" }
}

/// Values to y, on a log scale (a norm, a positive loss) or a linear one (a loss with values
/// ≤ 0). The domain is the drawn values' range, padded a little; a flat series gets a decade (or
/// one unit) of room.
struct ValueScale {
    let logarithmic: Bool
    /// The domain, in log10 units when logarithmic.
    let low: Double
    let high: Double
    /// The pixels of `low` and `high`.
    let bottom: Double
    let top: Double

    /// `low` and `high` are the smallest and largest values to draw (positive when logarithmic).
    init(low: Double, high: Double, logarithmic: Bool, bottom: Double, top: Double) {
        self.logarithmic = logarithmic
        self.bottom = bottom
        self.top = top
        var a = logarithmic ? log10(low) : low
        var b = logarithmic ? log10(high) : high
        if !a.isFinite || !b.isFinite || b < a { (a, b) = (0.0, 1.0) }
        let minimumSpan = logarithmic ? 0.5 : max(abs(a), abs(b)) * 1e-9
        if b - a <= minimumSpan {
            let middle = (a + b) / 2
            let half = logarithmic ? 0.5 : max(abs(middle) * 0.1, 0.5)
            (a, b) = (middle - half, middle + half)
        } else {
            let pad = (b - a) * 0.04
            (a, b) = (a - pad, b + pad)
        }
        self.low = a
        self.high = b
    }

    /// The y of a value (finite, and positive when logarithmic).
    func y(_ value: Double) -> Double {
        position(logarithmic ? log10(value) : value)
    }

    /// The y of a point of the domain (log10 units when logarithmic).
    func position(_ domainValue: Double) -> Double {
        bottom - (domainValue - low) / (high - low) * (bottom - top)
    }

    /// Ticks as (domain position, label): decades on a log scale (with 2 and 5 between them when
    /// the range spans fewer than three), round numbers on a linear one.
    func ticks() -> [(position: Double, label: String)] {
        if logarithmic {
            return Ticks.logarithmic(from: low, to: high).map { ($0, Ticks.powerLabel($0)) }
        }
        return Ticks.linear(from: low, to: high, count: 5).map { ($0, NumberFormat.short($0)) }
    }

    /// "log|linear low high bottom top", for the `data-y` attribute.
    var attribute: String {
        "\(logarithmic ? "log" : "linear") \(low) \(high) \(ChartLayout.coordinate(bottom)) \(ChartLayout.coordinate(top))"
    }
}

/// Where axis ticks go.
enum Ticks {
    /// Multiples of a round step (1, 2 or 5 × 10^k) between `from` and `to`, about `count` of them.
    static func linear(from: Double, to: Double, count: Int) -> [Double] {
        let span = to - from
        guard span > 0, span.isFinite else { return [from] }
        let raw = span / Double(max(1, count))
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        var step = 10 * magnitude
        for multiple in [1.0, 2, 5] where multiple * magnitude >= raw {
            step = multiple * magnitude
            break
        }
        var ticks: [Double] = []
        var index = (from / step).rounded(.up)
        while index * step <= to + step * 1e-9, ticks.count < 100 {
            let tick = index * step
            // 0.1 + 0.2: snap what should be zero to zero.
            ticks.append(abs(tick) < step * 1e-9 ? 0 : tick)
            index += 1
        }
        return ticks
    }

    /// Tick positions in log10 units: the decades in the range (every second, third… when there
    /// are more than seven); with fewer than three decades, 1, 2 and 5 times each.
    static func logarithmic(from: Double, to: Double) -> [Double] {
        guard from.isFinite, to.isFinite, to > from else { return [] }
        let firstDecade = Int((from - 1e-9).rounded(.up))
        let lastDecade = Int((to + 1e-9).rounded(.down))
        if lastDecade - firstDecade + 1 >= 3 {
            let every = Int((Double(lastDecade - firstDecade + 1) / 7).rounded(.up))
            return (firstDecade...lastDecade).filter { $0.isMultiple(of: every) }.map { Double($0) }
        }
        var ticks: [Double] = []
        for decade in Int(from.rounded(.down))...Int(to.rounded(.up)) {
            for multiple in [1.0, 2, 5] {
                let tick = Double(decade) + log10(multiple)
                if tick >= from - 1e-9 && tick <= to + 1e-9 { ticks.append(tick) }
            }
        }
        return ticks
    }

    /// A log-axis label: 0.01 … 1000 written out, powers of ten beyond as 1e4, 1e-3; 2 and 5
    /// times a decade as numbers.
    static func powerLabel(_ position: Double) -> String {
        let decade = position.rounded()
        if abs(position - decade) < 1e-9, decade < -2 || decade > 3 {
            return "1e\(Int(decade))"
        }
        return NumberFormat.short(pow(10, position))
    }
}
