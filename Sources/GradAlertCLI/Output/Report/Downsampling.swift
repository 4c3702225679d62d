// Downsampling for drawing: a series is kept as at most a few thousand buckets of steps while it
// is read (memory does not grow with the run), and drawn as the smallest and largest value of
// each pixel column — each at its own step — so that a spike of one step in a million is still
// drawn at its height.

/// Which non-finite values a stretch of a series held.
struct NonfiniteKinds: OptionSet, Sendable, Hashable {
    let rawValue: UInt8

    static let nan = NonfiniteKinds(rawValue: 1)
    static let positiveInfinity = NonfiniteKinds(rawValue: 2)
    static let negativeInfinity = NonfiniteKinds(rawValue: 4)
    /// In the order the page lists them.
    static let each: [NonfiniteKinds] = [.nan, .positiveInfinity, .negativeInfinity]

    init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The kind of a non-finite value.
    init(of value: Double) {
        self = value.isNaN ? .nan : (value > 0 ? .positiveInfinity : .negativeInfinity)
    }

    /// NaN, +Inf, -Inf (one kind).
    var name: String {
        switch self {
        case .nan: "NaN"
        case .positiveInfinity: "+Inf"
        default: "-Inf"
        }
    }

    /// "NaN · +Inf" for the kinds present, in the page's order.
    var names: [String] { Self.each.filter { contains($0) }.map(\.name) }
}

/// What one stretch of steps of a series held: the smallest and largest finite value and the
/// smallest positive one (for log scales), each with its step, and the steps where it was
/// non-finite or not positive. Equal values keep the earlier step, so the result does not depend
/// on the order buckets are merged in.
struct StepBucket {
    var low = Double.infinity
    var lowStep: Int64 = 0
    var high = -Double.infinity
    var highStep: Int64 = 0
    var lowPositive = Double.infinity
    var lowPositiveStep: Int64 = 0
    var nonfinite: NonfiniteKinds = []
    var nonfiniteSteps: ClosedRange<Int64>?
    var nonPositiveSteps: ClosedRange<Int64>?

    var hasFinite: Bool { low <= high }

    mutating func add(step: Int64, value: Double) {
        guard value.isFinite else {
            nonfinite.insert(NonfiniteKinds(of: value))
            nonfiniteSteps = Self.widen(nonfiniteSteps, step...step)
            return
        }
        takeLow(value, step)
        takeHigh(value, step)
        if value > 0 {
            if value < lowPositive || (value == lowPositive && step < lowPositiveStep) {
                lowPositive = value
                lowPositiveStep = step
            }
        } else {
            nonPositiveSteps = Self.widen(nonPositiveSteps, step...step)
        }
    }

    mutating func merge(_ other: StepBucket) {
        if other.hasFinite {
            takeLow(other.low, other.lowStep)
            takeHigh(other.high, other.highStep)
        }
        if other.lowPositive < lowPositive || (other.lowPositive == lowPositive && other.lowPositiveStep < lowPositiveStep) {
            lowPositive = other.lowPositive
            lowPositiveStep = other.lowPositiveStep
        }
        nonfinite.formUnion(other.nonfinite)
        if let steps = other.nonfiniteSteps { nonfiniteSteps = Self.widen(nonfiniteSteps, steps) }
        if let steps = other.nonPositiveSteps { nonPositiveSteps = Self.widen(nonPositiveSteps, steps) }
    }

    private mutating func takeLow(_ value: Double, _ step: Int64) {
        if value < low || (value == low && step < lowStep) {
            low = value
            lowStep = step
        }
    }

    private mutating func takeHigh(_ value: Double, _ step: Int64) {
        if value > high || (value == high && step < highStep) {
            high = value
            highStep = step
        }
    }

    private static func widen(_ range: ClosedRange<Int64>?, _ other: ClosedRange<Int64>) -> ClosedRange<Int64> {
        guard let range else { return other }
        return min(range.lowerBound, other.lowerBound)...max(range.upperBound, other.upperBound)
    }
}

/// One series, downsampled as it arrives: buckets of `width` steps, aligned on multiples of the
/// width, at most `capacity` of them. When the steps seen span more, the width doubles and each
/// pair of neighbours merges into one, so the buckets always cover the series with between
/// capacity/2 and capacity buckets' worth of steps — for a capacity of twice the plot's width, a
/// bucket never spans more than one pixel column.
struct StepBuckets {
    let capacity: Int
    private(set) var width: Int64 = 1
    private(set) var buckets: [Int64: StepBucket] = [:]
    private var lowKey: Int64 = 0
    private var highKey: Int64 = 0
    /// The smallest and largest step seen.
    private(set) var firstStep: Int64?
    private(set) var lastStep: Int64?
    /// Values added.
    private(set) var count = 0

    init(capacity: Int) {
        precondition(capacity >= 4, "a bucket store needs room for a few buckets")
        self.capacity = capacity
    }

    mutating func add(step: Int64, value: Double) {
        var key = Self.floorDivide(step, width)
        if count == 0 {
            lowKey = key
            highKey = key
        } else {
            while !Self.fits(min(lowKey, key), max(highKey, key), capacity), width < 1 << 62 {
                coarsen()
                key = Self.floorDivide(step, width)
            }
            lowKey = min(lowKey, key)
            highKey = max(highKey, key)
        }
        buckets[key, default: StepBucket()].add(step: step, value: value)
        firstStep = min(firstStep ?? step, step)
        lastStep = max(lastStep ?? step, step)
        count += 1
    }

    /// Doubles the width: bucket k of the new width holds buckets 2k and 2k+1 of the old one.
    private mutating func coarsen() {
        width *= 2
        var merged: [Int64: StepBucket] = [:]
        merged.reserveCapacity(buckets.count / 2 + 1)
        for (key, bucket) in buckets {
            merged[Self.floorDivide(key, 2), default: StepBucket()].merge(bucket)
        }
        buckets = merged
        lowKey = Self.floorDivide(lowKey, 2)
        highKey = Self.floorDivide(highKey, 2)
    }

    /// Whether keys from `low` to `high` fit in `capacity` buckets (without overflowing).
    private static func fits(_ low: Int64, _ high: Int64, _ capacity: Int) -> Bool {
        let (span, overflow) = high.subtractingReportingOverflow(low)
        return !overflow && span < Int64(capacity)
    }

    /// Division rounding towards minus infinity (steps may be negative); `divisor` > 0.
    static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        let quotient = value / divisor
        return value % divisor < 0 ? quotient - 1 : quotient
    }

    // MARK: - Summaries

    /// The smallest and largest finite value (only positive ones when `positive`); nil when
    /// there is none.
    func finiteRange(positive: Bool) -> (low: Double, high: Double)? {
        var low = Double.infinity
        var high = -Double.infinity
        for bucket in buckets.values where bucket.hasFinite {
            if positive {
                guard bucket.high > 0 else { continue }
                low = min(low, bucket.lowPositive)
            } else {
                low = min(low, bucket.low)
            }
            high = max(high, bucket.high)
        }
        return low <= high ? (low, high) : nil
    }

    /// The non-finite kinds anywhere in the series.
    var nonfinite: NonfiniteKinds {
        buckets.values.reduce(into: NonfiniteKinds()) { $0.formUnion($1.nonfinite) }
    }

    /// The buckets in step order.
    var ordered: [StepBucket] { buckets.keys.sorted().map { buckets[$0]! } }
}

/// One pixel column of a line chart: the smallest and largest value drawn in it, each with its
/// step, and whether the line breaks there (a non-finite value, or one a log scale cannot show).
struct PlotColumn {
    var low: (step: Int64, value: Double)?
    var high: (step: Int64, value: Double)?
    var breaks = false

    /// Its points in step order: none, one, or its low and high.
    var points: [(step: Int64, value: Double)] {
        switch (low, high) {
        case (nil, nil): return []
        case (let point?, nil), (nil, let point?): return [point]
        case (let low?, let high?):
            if low.step == high.step { return [high] }
            return low.step < high.step ? [low, high] : [high, low]
        }
    }

    mutating func takeLow(_ step: Int64, _ value: Double) {
        if let low, !(value < low.value || (value == low.value && step < low.step)) { return }
        low = (step, value)
    }

    mutating func takeHigh(_ step: Int64, _ value: Double) {
        if let high, !(value > high.value || (value == high.value && step < high.step)) { return }
        high = (step, value)
    }
}

extension StepBuckets {
    /// min/max per pixel column: each bucket's extremes land in the column of their own step (a
    /// bucket never spans more than a column, so nothing moves by more than that). On a log
    /// scale only positive values are drawn; zeros and negative values break the line as
    /// non-finite values do.
    func columns(_ scale: StepScale, count: Int = ChartLayout.plotWidth, logarithmic: Bool) -> [PlotColumn] {
        var columns = [PlotColumn](repeating: PlotColumn(), count: count)
        func column(_ step: Int64) -> Int { min(count - 1, scale.column(step)) }
        for bucket in buckets.values {
            let low = logarithmic ? (bucket.lowPositiveStep, bucket.lowPositive) : (bucket.lowStep, bucket.low)
            if bucket.hasFinite, !logarithmic || bucket.high > 0 {
                columns[column(low.0)].takeLow(low.0, low.1)
                columns[column(bucket.highStep)].takeHigh(bucket.highStep, bucket.high)
            }
            if let steps = bucket.nonfiniteSteps {
                columns[column(steps.lowerBound)].breaks = true
                columns[column(steps.upperBound)].breaks = true
            }
            if logarithmic, let steps = bucket.nonPositiveSteps {
                columns[column(steps.lowerBound)].breaks = true
                columns[column(steps.upperBound)].breaks = true
            }
        }
        return columns
    }

    /// Stretches of consecutive logged values that are non-finite of one kind (`kind`), or, with
    /// `kind` nil, not positive: a stretch goes on until a bucket without such a value.
    func stretches(of kind: NonfiniteKinds?) -> [ClosedRange<Int64>] {
        var stretches: [ClosedRange<Int64>] = []
        var current: ClosedRange<Int64>?
        for bucket in ordered {
            let steps: ClosedRange<Int64>?
            if let kind {
                steps = bucket.nonfinite.contains(kind) ? bucket.nonfiniteSteps : nil
            } else {
                steps = bucket.nonPositiveSteps
            }
            if let steps {
                current = current.map { $0.lowerBound...max($0.upperBound, steps.upperBound) } ?? steps
            } else if let done = current {
                stretches.append(done)
                current = nil
            }
        }
        if let current { stretches.append(current) }
        return stretches
    }
}
