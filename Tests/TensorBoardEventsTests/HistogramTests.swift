import GradAlertTestSupport
import Testing

@testable import TensorBoardEvents

@Suite struct HistogramTests {
    @Test func layoutIsTensorFlows() {
        let limits = TensorFlowBuckets.limits
        #expect(limits.count == 1551)
        #expect(limits.first == -Double.greatestFiniteMagnitude)
        #expect(limits.last == Double.greatestFiniteMagnitude)
        #expect(limits[775] == 0)
        #expect(limits[776] == 1e-12)
        // Symmetric, strictly ascending, and built by repeated ×1.1 like TensorFlow's loop.
        for index in 1..<limits.count { #expect(limits[index - 1] < limits[index]) }
        for index in 0..<limits.count { #expect(limits[index] == -limits[limits.count - 1 - index]) }
        var value = 1.0e-12
        for k in 0..<10 {
            #expect(limits[776 + k] == value)
            value *= 1.1
        }
        #expect(limits[limits.count - 2] < 1e20)
        #expect(limits[limits.count - 2] * 1.1 >= 1e20)
    }

    /// The fast index agrees with C++'s `std::upper_bound` everywhere, above all on and next to
    /// every edge.
    @Test func fastIndexMatchesUpperBound() {
        var probes: [Double] = [0, -0.0, Double.leastNonzeroMagnitude, -Double.leastNonzeroMagnitude,
                                Double.greatestFiniteMagnitude, -Double.greatestFiniteMagnitude, 1, -1]
        for limit in TensorFlowBuckets.limits {
            probes += [limit, limit.nextUp, limit.nextDown]
        }
        var random = TestRandom(seed: 3)
        for _ in 0..<200_000 {
            let exponent = Double.random(in: -320...308, using: &random)
            let sign: Double = Bool.random(using: &random) ? 1 : -1
            probes.append(sign * Double.random(in: 1..<10, using: &random) * pow10(exponent))
        }
        for value in probes where value.isFinite {
            let fast = TensorFlowBuckets.index(of: value)
            let reference = TensorFlowBuckets.upperBoundIndex(of: value)
            #expect(fast == reference, "value \(value)")
            if fast != reference { return }
        }
    }

    private func pow10(_ exponent: Double) -> Double {
        var result = 1.0
        var remaining = exponent
        while remaining >= 1 { result *= 10; remaining -= 1 }
        while remaining <= -1 { result /= 10; remaining += 1 }
        return result
    }

    /// Moments are exact (same order of summation as a plain loop); buckets hold every finite value.
    @Test func summaryOfValues() {
        var random = TestRandom(seed: 11)
        let values = (0..<10_000).map { _ in Float.random(in: -3...3, using: &random) }
        let summary = HistogramSummary(values: values)
        var sum = 0.0
        var squares = 0.0
        for value in values {
            sum += Double(value)
            squares += Double(value) * Double(value)
        }
        #expect(summary.count == 10_000)
        #expect(summary.sum == sum)
        #expect(summary.sumSquares == squares)
        #expect(summary.min == Double(values.min()!))
        #expect(summary.max == Double(values.max()!))
        #expect(summary.bucketCounts.reduce(0, +) == 10_000)
        // Each bucket's count is the number of values in [previous edge, edge).
        let limits = summary.bucketLimits
        for (index, limit) in limits.enumerated() where summary.bucketCounts[index] > 0 {
            let lower = index == 0 ? -Double.infinity : limits[index - 1]
            let inside = values.filter { Double($0) >= lower && Double($0) < limit }.count
            #expect(Double(inside) == summary.bucketCounts[index])
        }
    }

    /// Only non-empty buckets and the edges bounding them: a leading empty bucket for the left
    /// edge, runs of empty buckets collapsed into one, nothing after the last non-empty bucket.
    @Test func onlyNonEmptyBucketsAndTheirEdges() {
        let summary = HistogramSummary(values: [1.0, 1.0, 1000.0])
        let limits = TensorFlowBuckets.limits
        let one = TensorFlowBuckets.index(of: 1.0)
        let thousand = TensorFlowBuckets.index(of: 1000.0)
        #expect(summary.bucketLimits == [limits[one - 1], limits[one], limits[thousand - 1], limits[thousand]])
        #expect(summary.bucketCounts == [0, 2, 0, 1])
    }

    @Test func nonFiniteValuesAreCountedNotBinned() {
        let values: [Double] = [1, 2, .nan, .infinity, -.infinity, .nan, 3]
        let summary = HistogramSummary(values: values)
        #expect(summary.count == 3)
        #expect(summary.bucketCounts.reduce(0, +) == 3)
        #expect(summary.nonFinite == NonFiniteCounts(nan: 2, positiveInfinity: 1, negativeInfinity: 1))
        #expect(summary.sum.isNaN)
        #expect(summary.sumSquares.isNaN)
        #expect(summary.min == -.infinity)
        #expect(summary.max == .infinity)

        let onlyInfinity = HistogramSummary(values: [Float.infinity, 2])
        #expect(onlyInfinity.sum == .infinity)
        #expect(onlyInfinity.min == 2)
        #expect(onlyInfinity.max == .infinity)
    }

    @Test func emptyHistogramIsLikeTensorFlows() {
        let summary = HistogramSummary(values: [Float]())
        #expect(summary.count == 0)
        #expect(summary.bucketLimits == [Double.greatestFiniteMagnitude])
        #expect(summary.bucketCounts == [0])
        #expect(summary.min == 0 && summary.max == 0)
    }
}
