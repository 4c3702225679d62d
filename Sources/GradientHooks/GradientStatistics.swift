#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CGradAlertStats
import Dispatch
import TensorBoardEvents

/// Everything gradalert measures of one gradient buffer, from one pass over it.
public struct GradientStatistics: Sendable, Equatable {
    /// Number of elements.
    public var count: Int = 0
    /// Σ g² over the finite elements, accumulated in Double.
    public var sumSquares: Double = 0
    /// Σ g over the finite elements.
    public var sum: Double = 0
    /// Smallest and largest finite element (0 when there is none).
    public var min: Double = .infinity
    public var max: Double = -.infinity
    public var nanCount = 0
    public var positiveInfinityCount = 0
    public var negativeInfinityCount = 0
    public var zeroCount = 0
    /// Counts per bucket of TensorFlow's default layout (`TensorFlowBuckets.limits`), finite
    /// elements only; nil when the histogram was not asked for.
    public var bucketCounts: [Int32]?

    public init() {}

    public var finiteCount: Int { count - nanCount - positiveInfinityCount - negativeInfinityCount }
    public var nonFiniteCount: Int { nanCount + positiveInfinityCount + negativeInfinityCount }
    public var isFinite: Bool { nonFiniteCount == 0 }

    /// The L2 norm: sqrt(Σ g²) over finite elements, or NaN/+Inf when the buffer had NaN/Inf
    /// (what PyTorch's `vector_norm` gives for such a buffer).
    public var l2Norm: Double {
        if nanCount > 0 { return .nan }
        if positiveInfinityCount + negativeInfinityCount > 0 { return .infinity }
        return sumSquares.squareRoot()
    }

    /// max |g| (the L∞ norm), NaN/+Inf likewise.
    public var maxAbs: Double {
        if nanCount > 0 { return .nan }
        if positiveInfinityCount + negativeInfinityCount > 0 { return .infinity }
        guard finiteCount > 0 else { return 0 }
        return Swift.max(Swift.abs(min), Swift.abs(max))
    }

    /// Mean of the finite elements.
    public var mean: Double { finiteCount > 0 ? sum / Double(finiteCount) : 0 }

    /// The histogram summary the writer writes, in TensorFlow's layout: buckets and moments of the
    /// finite elements; NaN and ±Inf counted apart and signalled in sum/sum_squares/min/max as
    /// `HistogramSummary(values:)` does.
    public func histogram() -> HistogramSummary? {
        guard let bucketCounts else { return nil }
        let counts = bucketCounts.map(Double.init)
        let nonFinite = NonFiniteCounts(nan: nanCount, positiveInfinity: positiveInfinityCount, negativeInfinity: negativeInfinityCount)
        return counts.withUnsafeBufferPointer {
            HistogramSummary(
                tensorFlowBucketCounts: $0, finiteCount: finiteCount, finiteMin: min, finiteMax: max,
                finiteSum: sum, finiteSumSquares: sumSquares, nonFinite: nonFinite)
        }
    }

    /// Adds another part's statistics (of the elements that follow this part's).
    mutating func merge(_ other: GradientStatistics) {
        count += other.count
        sumSquares += other.sumSquares
        sum += other.sum
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
        nanCount += other.nanCount
        positiveInfinityCount += other.positiveInfinityCount
        negativeInfinityCount += other.negativeInfinityCount
        zeroCount += other.zeroCount
        if var counts = bucketCounts, let more = other.bucketCounts {
            counts.withUnsafeMutableBufferPointer { a in
                more.withUnsafeBufferPointer { b in
                    for index in 0..<a.count { a[index] &+= b[index] }
                }
            }
            bucketCounts = counts
        }
    }

    mutating func finishEmpty() {
        if finiteCount == 0 {
            min = 0
            max = 0
        }
    }
}

/// Computes `GradientStatistics` in one pass, splitting large buffers into fixed chunks that run
/// on several threads. The chunking does not depend on the thread count and partial results are
/// merged in chunk order, so the result is the same bit for bit whatever `threads` is.
public enum GradientStatisticsKernel {
    /// Elements per chunk of a parallel pass.
    public static let chunkSize = 1 << 20

    public static func compute(_ buffer: UnsafeBufferPointer<Float>, histogram: Bool, threads: Int = 1) -> GradientStatistics {
        parallel(count: buffer.count, histogram: histogram, threads: threads) { range, histogram in
            floatPass(UnsafeBufferPointer(rebasing: buffer[range]), histogram: histogram)
        }
    }

    public static func compute(_ buffer: UnsafeBufferPointer<Double>, histogram: Bool, threads: Int = 1) -> GradientStatistics {
        parallel(count: buffer.count, histogram: histogram, threads: threads) { range, histogram in
            doublePass(UnsafeBufferPointer(rebasing: buffer[range]), histogram: histogram)
        }
    }

    /// IEEE binary16 values given as their bit patterns.
    public static func compute(float16Bits buffer: UnsafeBufferPointer<UInt16>, histogram: Bool, threads: Int = 1) -> GradientStatistics {
        parallel(count: buffer.count, histogram: histogram, threads: threads) { range, histogram in
            var converted = [Float](repeating: 0, count: 4096)
            var result = GradientStatistics()
            result.bucketCounts = histogram ? [Int32](repeating: 0, count: TensorFlowBuckets.count) : nil
            var start = range.lowerBound
            while start < range.upperBound {
                let end = Swift.min(start + converted.count, range.upperBound)
                for index in start..<end { converted[index - start] = HalfFloat.float(fromBits: buffer[index]) }
                let part = converted.withUnsafeBufferPointer { floatPass(UnsafeBufferPointer(rebasing: $0[0..<(end - start)]), histogram: histogram) }
                result.merge(part)
                start = end
            }
            return result
        }
    }

    private static func parallel(
        count: Int, histogram: Bool, threads: Int,
        _ pass: (Range<Int>, Bool) -> GradientStatistics
    ) -> GradientStatistics {
        let chunks = Swift.max(1, (count + chunkSize - 1) / chunkSize)
        var result: GradientStatistics
        if chunks == 1 {
            result = pass(0..<count, histogram)
        } else {
            let parts = PartResults(count: chunks)
            let workers = Swift.max(1, Swift.min(threads, chunks))
            if workers == 1 {
                for chunk in 0..<chunks { parts.set(chunk, pass(chunk * chunkSize..<Swift.min(count, (chunk + 1) * chunkSize), histogram)) }
            } else {
                withoutActuallyEscaping(pass) { escapable in
                    // Each worker reads its own chunks of a buffer the caller keeps alive for the call.
                    let shared = UncheckedSendable(escapable)
                    DispatchQueue.concurrentPerform(iterations: workers) { worker in
                        var chunk = worker
                        while chunk < chunks {
                            parts.set(chunk, shared.value(chunk * chunkSize..<Swift.min(count, (chunk + 1) * chunkSize), histogram))
                            chunk += workers
                        }
                    }
                }
            }
            result = parts.get(0)
            for chunk in 1..<chunks { result.merge(parts.get(chunk)) }
        }
        result.finishEmpty()
        return result
    }

    /// The one pass over Float elements, in C (CGradAlertStats): a vector loop for the moments and
    /// a scalar loop for the buckets, block by block, each block read from memory once.
    static func floatPass(_ buffer: UnsafeBufferPointer<Float>, histogram: Bool) -> GradientStatistics {
        var result = GradientStatistics()
        result.count = buffer.count
        let buckets = TensorFlowBuckets.count
        var stats = gradalert_float_stats()
        gradalert_float_stats_init(&stats)
        // The kernel's copies of the counters, `copyStride` apart (CGradAlertStats.h says why).
        let copies = Int(GRADALERT_STATS_COUNT_COPIES)
        let copyStride = Int(GRADALERT_STATS_COUNT_STRIDE)
        precondition(buckets <= copyStride, "the kernel's copies of the counters overlap")
        var counts = [Int32](repeating: 0, count: histogram ? copyStride * copies : 0)
        if let base = buffer.baseAddress, buffer.count > 0 {
            FloatBucketTable.shared.entries.withUnsafeBufferPointer { table in
                counts.withUnsafeMutableBufferPointer { counts in
                    gradalert_float_stats_accumulate(base, buffer.count, table.baseAddress, histogram ? counts.baseAddress : nil, &stats)
                }
            }
        }
        result.sumSquares = stats.sum_squares
        result.sum = stats.sum
        result.min = Double(stats.min)
        result.max = Double(stats.max)
        result.zeroCount = Int(stats.zeros)
        result.nanCount = Int(stats.nan)
        result.positiveInfinityCount = Int(stats.positive_infinity)
        result.negativeInfinityCount = Int(stats.negative_infinity)
        if histogram {
            var merged = [Int32](repeating: 0, count: buckets)
            for copy in 0..<copies {
                for index in 0..<buckets { merged[index] &+= counts[copy * copyStride + index] }
            }
            result.bucketCounts = merged
        }
        return result
    }

    /// The one pass over Double elements (simpler: gradients are rarely double).
    static func doublePass(_ buffer: UnsafeBufferPointer<Double>, histogram: Bool) -> GradientStatistics {
        var result = GradientStatistics()
        result.count = buffer.count
        var counts = [Int32](repeating: 0, count: histogram ? TensorFlowBuckets.count : 0)
        let table = DoubleBucketTable.shared
        var squares = 0.0
        var sum = 0.0
        for value in buffer {
            if value.isNaN {
                result.nanCount += 1
            } else if value.isInfinite {
                if value > 0 { result.positiveInfinityCount += 1 } else { result.negativeInfinityCount += 1 }
            } else {
                squares += value * value
                sum += value
                if value == 0 { result.zeroCount += 1 }
                if value < result.min { result.min = value }
                if value > result.max { result.max = value }
                if histogram { counts[table.index(of: value)] &+= 1 }
            }
        }
        result.sumSquares = squares
        result.sum = sum
        result.bucketCounts = histogram ? counts : nil
        return result
    }
}
