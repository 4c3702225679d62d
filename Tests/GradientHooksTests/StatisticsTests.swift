import Foundation
import GradAlertTestSupport
import Testing

@testable import GradientHooks
@testable import TensorBoardEvents


@Suite struct BucketTableTests {
    /// Every Float within 300 ulps of every edge, and random Floats of every magnitude.
    static func floatProbes() -> [Float] {
        var probes: [Float] = [0, -0.0, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .greatestFiniteMagnitude,
                               -.greatestFiniteMagnitude, .leastNormalMagnitude, -.leastNormalMagnitude]
        for limit in TensorFlowBuckets.limits {
            var center = Float(limit)
            if !center.isFinite { center = limit > 0 ? .greatestFiniteMagnitude : -.greatestFiniteMagnitude }
            var up = center
            var down = center
            for _ in 0..<300 {
                probes.append(up)
                probes.append(down)
                up = up.nextUp
                down = down.nextDown
            }
        }
        var random = TestRandom(seed: 17)
        for _ in 0..<500_000 {
            let bits = UInt32.random(in: 0...UInt32.max, using: &random)
            probes.append(Float(bitPattern: bits))
        }
        return probes
    }

    /// The table agrees with the `std::upper_bound` definition on every Float within 300 ulps of
    /// every edge, and on random Floats of every magnitude.
    @Test func floatTableIsExact() {
        let table = FloatBucketTable.shared
        let probes = Self.floatProbes()
        var mismatches = 0
        for value in probes where value.isFinite {
            let expected = TensorFlowBuckets.upperBoundIndex(of: Double(value))
            if table.index(of: value) != expected {
                mismatches += 1
                if mismatches < 5 { Issue.record("\(value) (bits \(String(value.bitPattern, radix: 16))): table \(table.index(of: value)), upper_bound \(expected)") }
            }
        }
        #expect(mismatches == 0)
    }

    /// The C kernel decodes the table Swift builds: its counts of the same probes (NaN and
    /// infinities among them, two chunks, all 8 copies of the counters) agree with
    /// `std::upper_bound` too.
    @Test func kernelCountsAreExact() {
        let probes = Self.floatProbes()
        var expected = [Int32](repeating: 0, count: TensorFlowBuckets.count)
        for value in probes where value.isFinite { expected[TensorFlowBuckets.upperBoundIndex(of: Double(value))] += 1 }
        let stats = probes.withUnsafeBufferPointer { GradientStatisticsKernel.compute($0, histogram: true) }
        #expect(stats.bucketCounts == expected)
    }

    @Test func doubleTableIsExact() {
        let table = DoubleBucketTable.shared
        var probes: [Double] = [0, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude]
        for limit in TensorFlowBuckets.limits {
            var up = limit
            var down = limit
            for _ in 0..<20 {
                probes += [up, down]
                up = up.nextUp
                down = down.nextDown
            }
        }
        var random = TestRandom(seed: 5)
        for _ in 0..<200_000 { probes.append(Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &random))) }
        var mismatches = 0
        for value in probes where value.isFinite && table.index(of: value) != TensorFlowBuckets.upperBoundIndex(of: value) {
            mismatches += 1
        }
        #expect(mismatches == 0)
    }
}

@Suite struct StatisticsTests {
    /// Random data with NaN, ±Inf, zeros, subnormals and huge values: every statistic against a
    /// plain Double reference.
    func reference(_ values: [Float]) -> (squares: Double, sum: Double, min: Double, max: Double, nan: Int, pinf: Int, ninf: Int, zeros: Int, buckets: [Int32]) {
        var squares = 0.0, sum = 0.0, low = Double.infinity, high = -Double.infinity
        var nan = 0, pinf = 0, ninf = 0, zeros = 0
        var buckets = [Int32](repeating: 0, count: TensorFlowBuckets.count)
        for value in values {
            if value.isNaN { nan += 1; continue }
            if value == .infinity { pinf += 1; continue }
            if value == -.infinity { ninf += 1; continue }
            let d = Double(value)
            squares += d * d
            sum += d
            low = min(low, d)
            high = max(high, d)
            if value == 0 { zeros += 1 }
            buckets[TensorFlowBuckets.upperBoundIndex(of: d)] += 1
        }
        return (squares, sum, low, high, nan, pinf, ninf, zeros, buckets)
    }

    func awkwardValues(count: Int, seed: UInt64) -> [Float] {
        var random = TestRandom(seed: seed)
        return (0..<count).map { index in
            switch Int.random(in: 0..<100, using: &random) {
            case 0: return .nan
            case 1: return .infinity
            case 2: return -.infinity
            case 3..<8: return 0
            case 8..<10: return Float.leastNonzeroMagnitude * Float(Int.random(in: -100...100, using: &random))
            case 10..<12: return Float.random(in: -1...1, using: &random) * 3e38
            default: return Float.random(in: -1...1, using: &random) * Float(index % 7 + 1) * 1e-3
            }
        }
    }

    @Test(arguments: [0, 1, 7, 8, 9, 100, 4099])
    func floatStatisticsMatchAReference(count: Int) {
        let values = awkwardValues(count: count, seed: UInt64(count) + 1)
        let stats = values.withUnsafeBufferPointer { GradientStatisticsKernel.compute($0, histogram: true) }
        let expected = reference(values)
        #expect(stats.count == count)
        #expect(stats.nanCount == expected.nan && stats.positiveInfinityCount == expected.pinf && stats.negativeInfinityCount == expected.ninf)
        #expect(stats.zeroCount == expected.zeros)
        #expect(stats.bucketCounts == expected.buckets)
        if stats.finiteCount > 0 {
            #expect(stats.min == expected.min && stats.max == expected.max)
            // Four accumulators add in another order than one: equal to within rounding.
            #expect(abs(stats.sumSquares - expected.squares) <= 1e-12 * expected.squares)
        }
        if expected.nan > 0 { #expect(stats.l2Norm.isNaN) } else if expected.pinf + expected.ninf > 0 { #expect(stats.l2Norm == .infinity) }
    }

    @Test func doubleAndHalfBuffers() {
        let values = awkwardValues(count: 1000, seed: 3)
        let doubles = values.map(Double.init)
        let fromDouble = doubles.withUnsafeBufferPointer { GradientStatisticsKernel.compute($0, histogram: true) }
        let expected = reference(values)
        #expect(fromDouble.bucketCounts == expected.buckets)
        #expect(fromDouble.sumSquares == expected.squares)
        #expect(fromDouble.nanCount == expected.nan)

        let halves: [UInt16] = [0x3C00, 0xBC00, 0x0000, 0x8000, 0x0001, 0x7BFF, 0x7C00, 0xFC00, 0x7E00, 0x3555]
        let floats: [Float] = [1, -1, 0, -0.0, 0x1p-24, 65504, .infinity, -.infinity, .nan, Float(0x3555 & 0x3ff) / 1024 * 0x1p-2 + 0x1p-2]
        for (bits, value) in zip(halves, floats) {
            let converted = HalfFloat.float(fromBits: bits)
            #expect(converted == value || (converted.isNaN && value.isNaN), "half \(String(bits, radix: 16))")
        }
        let half = halves.withUnsafeBufferPointer { GradientStatisticsKernel.compute(float16Bits: $0, histogram: true) }
        #expect(half.nanCount == 1 && half.positiveInfinityCount == 1 && half.negativeInfinityCount == 1)
        #expect(half.zeroCount == 2)
        #expect(half.max == 65504)
    }

    /// Chunked across threads, the result is the same bit for bit whatever the thread count.
    @Test func resultsDoNotDependOnThreads() {
        let count = 3 * GradientStatisticsKernel.chunkSize + 12345
        var random = TestRandom(seed: 99)
        let values = (0..<count).map { _ in Float.random(in: -1...1, using: &random) }
        let one = values.withUnsafeBufferPointer { GradientStatisticsKernel.compute($0, histogram: true, threads: 1) }
        let two = values.withUnsafeBufferPointer { GradientStatisticsKernel.compute($0, histogram: true, threads: 2) }
        let eight = values.withUnsafeBufferPointer { GradientStatisticsKernel.compute($0, histogram: true, threads: 8) }
        #expect(one == two)
        #expect(one == eight)
        #expect(one.bucketCounts?.reduce(0, +) == Int32(count))
    }

    /// The histogram the hooks write is the one the writer makes from the same values.
    @Test func histogramMatchesTheWritersSummary() {
        let values = awkwardValues(count: 5000, seed: 8).filter(\.isFinite)
        let stats = values.withUnsafeBufferPointer { GradientStatisticsKernel.compute($0, histogram: true) }
        let fromHooks = stats.histogram()!
        let fromWriter = HistogramSummary(values: values)
        #expect(fromHooks.bucketLimits == fromWriter.bucketLimits)
        #expect(fromHooks.bucketCounts == fromWriter.bucketCounts)
        #expect(fromHooks.min == fromWriter.min && fromHooks.max == fromWriter.max)
        #expect(fromHooks.count == fromWriter.count)
    }
}
