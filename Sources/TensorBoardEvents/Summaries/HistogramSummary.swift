/// A histogram in TensorBoard's legacy `HistogramProto` form: exact moments and bucket counts,
/// each bucket given by its right edge (the left edge is the previous bucket's right edge).
///
/// What a summary built from values holds (docs/format.md says the same):
/// - `count` and the buckets cover the finite values only; NaN and ±Inf are never put in a bucket.
/// - `sum` and `sumSquares` are IEEE sums over all values, so one NaN makes them NaN and an infinity
///   makes them infinite: any reader sees the damage.
/// - `min` and `max` are over the finite values and the infinities (NaN changes neither).
/// - `nonFinite` counts what was left out of the buckets. It is not part of the protobuf message,
///   so a summary read back from a file has it all zero.
public struct HistogramSummary: Sendable, Equatable {
    public var min: Double
    public var max: Double
    /// Number of values in the buckets (`num` in the protobuf).
    public var count: Double
    public var sum: Double
    public var sumSquares: Double
    /// Right edges of the buckets, ascending.
    public var bucketLimits: [Double]
    /// Number of values in each bucket, parallel to `bucketLimits`.
    public var bucketCounts: [Double]
    public var nonFinite: NonFiniteCounts

    public init(
        min: Double, max: Double, count: Double, sum: Double, sumSquares: Double,
        bucketLimits: [Double], bucketCounts: [Double], nonFinite: NonFiniteCounts = NonFiniteCounts()
    ) {
        self.min = min
        self.max = max
        self.count = count
        self.sum = sum
        self.sumSquares = sumSquares
        self.bucketLimits = bucketLimits
        self.bucketCounts = bucketCounts
        self.nonFinite = nonFinite
    }

    /// `sqrt(sumSquares)`: the L2 norm of the values, the gradient norm of a gradient histogram.
    public var l2Norm: Double { sumSquares.squareRoot() }

    /// `max(|min|, |max|)`: the largest magnitude.
    public var maxAbs: Double { Swift.max(Swift.abs(min), Swift.abs(max)) }
}

/// NaN and infinity counts, kept apart from the buckets.
public struct NonFiniteCounts: Sendable, Equatable {
    public var nan: Int
    public var positiveInfinity: Int
    public var negativeInfinity: Int

    public init(nan: Int = 0, positiveInfinity: Int = 0, negativeInfinity: Int = 0) {
        self.nan = nan
        self.positiveInfinity = positiveInfinity
        self.negativeInfinity = negativeInfinity
    }

    public var total: Int { nan + positiveInfinity + negativeInfinity }
}

extension HistogramSummary {
    /// Builds a summary in TensorFlow's default bucket layout from per-bucket counts (indexed like
    /// `TensorFlowBuckets.limits`) and the moments, keeping only the non-empty buckets and the
    /// edges that bound them: a run of empty buckets between two non-empty ones becomes one empty
    /// bucket, and one empty bucket before the first non-empty one records its left edge — as
    /// TensorFlow's `Histogram::EncodeToProto` does, less its trailing empty bucket up to DBL_MAX.
    public init(
        tensorFlowBucketCounts counts: UnsafeBufferPointer<Double>,
        min: Double, max: Double, sum: Double, sumSquares: Double, nonFinite: NonFiniteCounts = NonFiniteCounts()
    ) {
        precondition(counts.count == TensorFlowBuckets.count, "one count per TensorFlow bucket")
        let limits = TensorFlowBuckets.limits
        var bucketLimits: [Double] = []
        var bucketCounts: [Double] = []
        var total = 0.0
        var first = -1
        var last = -1
        for index in 0..<counts.count where counts[index] > 0 {
            if first < 0 { first = index }
            last = index
        }
        if first >= 0 {
            if first > 0 {
                bucketLimits.append(limits[first - 1])
                bucketCounts.append(0)
            }
            var index = first
            while index <= last {
                let value = counts[index]
                if value > 0 {
                    bucketLimits.append(limits[index])
                    bucketCounts.append(value)
                    total += value
                    index += 1
                } else {
                    var next = index
                    while counts[next] <= 0 { next += 1 }
                    bucketLimits.append(limits[next - 1])
                    bucketCounts.append(0)
                    index = next
                }
            }
        } else {
            bucketLimits = [Double.greatestFiniteMagnitude]
            bucketCounts = [0]
        }
        self.init(
            min: min, max: max, count: total, sum: sum, sumSquares: sumSquares,
            bucketLimits: bucketLimits, bucketCounts: bucketCounts, nonFinite: nonFinite)
    }

    /// Builds a summary in TensorFlow's default layout from per-bucket counts of the finite values
    /// and their moments, with the rules above for what NaN and ±Inf do to min, max, sum and
    /// sum of squares (`nonFinite` counts them; the finite moments are over finite values only).
    public init(
        tensorFlowBucketCounts counts: UnsafeBufferPointer<Double>, finiteCount: Int,
        finiteMin: Double, finiteMax: Double, finiteSum: Double, finiteSumSquares: Double, nonFinite: NonFiniteCounts
    ) {
        var low = finiteCount > 0 ? finiteMin : 0
        var high = finiteCount > 0 ? finiteMax : 0
        if nonFinite.negativeInfinity > 0 { low = -.infinity }
        if nonFinite.positiveInfinity > 0 { high = .infinity }
        if finiteCount == 0 {
            // Only infinities (and NaN): min and max are the infinities there are.
            if nonFinite.negativeInfinity == 0 && nonFinite.positiveInfinity > 0 { low = .infinity }
            if nonFinite.positiveInfinity == 0 && nonFinite.negativeInfinity > 0 { high = -.infinity }
        }
        var sum = finiteSum
        if nonFinite.nan > 0 || (nonFinite.positiveInfinity > 0 && nonFinite.negativeInfinity > 0) {
            sum = .nan
        } else if nonFinite.positiveInfinity > 0 {
            sum = .infinity
        } else if nonFinite.negativeInfinity > 0 {
            sum = -.infinity
        }
        var sumSquares = finiteSumSquares
        if nonFinite.nan > 0 {
            sumSquares = .nan
        } else if nonFinite.positiveInfinity + nonFinite.negativeInfinity > 0 {
            sumSquares = .infinity
        }
        self.init(tensorFlowBucketCounts: counts, min: low, max: high, sum: sum, sumSquares: sumSquares, nonFinite: nonFinite)
    }

    /// Summarises `values` in TensorFlow's default layout (one pass).
    public init<C: Collection>(values: C) where C.Element: BinaryFloatingPoint {
        var counts = [Double](repeating: 0, count: TensorFlowBuckets.count)
        var minimum = Double.infinity
        var maximum = -Double.infinity
        var sum = 0.0
        var sumSquares = 0.0
        var nonFinite = NonFiniteCounts()
        var finite = 0
        for element in values {
            let value = Double(element)
            if value.isFinite {
                counts[TensorFlowBuckets.index(of: value)] += 1
                finite += 1
                sum += value
                sumSquares += value * value
                if value < minimum { minimum = value }
                if value > maximum { maximum = value }
            } else if value.isNaN {
                nonFinite.nan += 1
            } else if value > 0 {
                nonFinite.positiveInfinity += 1
            } else {
                nonFinite.negativeInfinity += 1
            }
        }
        let (count, lo, hi, s, ss, nf) = (finite, minimum, maximum, sum, sumSquares, nonFinite)
        self = counts.withUnsafeBufferPointer {
            HistogramSummary(tensorFlowBucketCounts: $0, finiteCount: count, finiteMin: lo, finiteMax: hi, finiteSum: s, finiteSumSquares: ss, nonFinite: nf)
        }
    }
}
