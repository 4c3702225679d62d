import Foundation
import GradAlertTestSupport
import Testing

@testable import GradientHooks
@testable import TensorBoardEvents

func fixture(_ path: String) -> [String: Any] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/" + path)
    guard let data = try? Data(contentsOf: url), let object = try? ExactJSON.parse(data) as? [String: Any] else { return [:] }
    return object
}

func number(_ any: Any?) -> Double {
    switch any {
    case let value as Double: value
    case let value as Int: Double(value)
    case "NaN" as String: .nan
    case "Infinity" as String: .infinity
    case "-Infinity" as String: -.infinity
    default: .signalingNaN
    }
}

/// TensorFlow's own histogram kernel (`tf.compat.v1.summary.histogram`, default buckets) on
/// values exactly on, and one ulp either side of, its bucket edges: our placement must be its
/// placement. Where TensorFlow treats subnormals as zero (it runs with denormals-are-zero), the
/// fixture records the plain IEEE placement too, which is the one we — and numpy — follow.
@Suite struct TensorFlowHistogramFixtureTests {
    nonisolated(unsafe) static let data = fixture("histograms/tensorflow_default_buckets.json")
    static var cases: [String] { ((data["cases"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String } }

    @Test func edgesAreTensorFlows() throws {
        let edges = try #require(Self.data["edges"] as? [String: Any])
        #expect((edges["count"] as? Int ?? edges["length"] as? Int) == TensorFlowBuckets.count)
        let positive = (edges["positive_finite"] as? [Any] ?? edges["positive"] as? [Any] ?? []).map(number)
        #expect(positive.count == 774)
        #expect(positive == Array(TensorFlowBuckets.limits[776..<1550]))
    }

    @Test(arguments: cases)
    func placementMatches(name: String) throws {
        let spec = try #require((Self.data["cases"] as? [[String: Any]])?.first { $0["name"] as? String == name })
        let isFloat = spec["dtype"] as? String == "float32"
        for entry in (spec["per_value"] as? [[String: Any]]) ?? [] {
            let value = number(entry["value"])
            let expected = (entry["ieee_upper_bound_index"] as? Int) ?? (entry["tf_bucket_limit_index"] as? Int)
            guard let expected else { continue }
            let ours = isFloat ? FloatBucketTable.shared.index(of: Float(value)) : DoubleBucketTable.shared.index(of: value)
            #expect(ours == expected, "\(name): \(value) → bucket \(ours), TensorFlow \(expected)")
        }
        // Whole histograms, where TensorFlow's denormals-are-zero does not come into it.
        let values = ((spec["values"] as? [Any]) ?? []).map(number)
        let hasSubnormal = values.contains { $0 != 0 && abs($0) < (isFloat ? Double(Float.leastNormalMagnitude) : Double.leastNormalMagnitude) }
        guard !hasSubnormal, let tf = spec["tensorflow"] as? [String: Any] else { return }
        let statistics = isFloat
            ? values.map(Float.init).withUnsafeBufferPointer { GradientStatisticsKernel.compute($0, histogram: true) }
            : values.withUnsafeBufferPointer { GradientStatisticsKernel.compute($0, histogram: true) }
        let ours = try #require(statistics.histogram())
        var limits = ((tf["bucket_limit"] as? [Any]) ?? []).map(number)
        var counts = ((tf["bucket"] as? [Any]) ?? []).map(number)
        // TensorFlow ends with one empty bucket up to DBL_MAX; we leave it out (docs/format.md).
        if limits.count > 1, limits.last == Double.greatestFiniteMagnitude, counts.last == 0 {
            limits.removeLast()
            counts.removeLast()
        }
        #expect(ours.bucketLimits == limits, "\(name)")
        #expect(ours.bucketCounts == counts, "\(name)")
        #expect(ours.count == number(tf["num"]))
        if !values.isEmpty {
            #expect(ours.min == number(tf["min"]) && ours.max == number(tf["max"]), "\(name)")
            // Summation order differs (TensorFlow adds in feed order, we in blocks): equal to within
            // the rounding of the largest terms.
            let sum = number(tf["sum"])
            let scale = values.reduce(0) { $0 + abs($1) }
            #expect(abs(ours.sum - sum) <= Double(values.count) * 4 * Double.ulpOfOne * scale, "\(name): sum \(ours.sum) vs \(sum)")
        }
    }
}

/// torch.nn.utils.clip_grad_norm_ / clip_grad_value_ on committed cases (torch 2.15).
@Suite struct TorchClippingFixtureTests {
    nonisolated(unsafe) static let data = fixture("clipping/torch_clip_cases.json")
    static var cases: [String] { ((data["cases"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String } }

    @Test func casesArePresent() { #expect(Self.cases.count >= 20) }

    @Test(arguments: cases)
    func clippingMatchesPyTorch(name: String) throws {
        let spec = try #require((Self.data["cases"] as? [[String: Any]])?.first { $0["name"] as? String == name })
        // A parameter without a gradient (None in torch) is skipped, as torch skips it.
        let present = ((spec["grads"] as? [Any]) ?? []).map { $0 as? [String: Any] }
        let inputs = present.compactMap { $0 }.map { (($0["values"] as? [Any]) ?? []).map { Float(number($0)) } }
        let parameters = inputs.map { values -> Parameter in
            let parameter = Parameter(shape: [values.count])
            parameter.gradient = values
            return parameter
        }
        let expectedAfter = ((spec["grads_after"] as? [Any]) ?? []).compactMap { $0 as? [Any] }.map { $0.map { Float(number($0)) } }
        if spec["function"] as? String == "clip_grad_value_", let clipValue = spec["clip_value"] {
            GradientClipping.clipGradValue(parameters, Float(number(clipValue)))
            for (parameter, expected) in zip(parameters, expectedAfter) { #expect(same(parameter.gradient, expected), "\(name)") }
            return
        }
        let maxNorm = number(spec["max_norm"])
        let normType = number(spec["norm_type"])
        let errorIfNonfinite = spec["error_if_nonfinite"] as? Bool ?? false
        if spec["raised"] != nil {
            #expect(throws: GradientClipping.NonFiniteNormError.self) {
                try GradientClipping.clipGradNorm(parameters, maxNorm: maxNorm, normType: normType, errorIfNonfinite: errorIfNonfinite)
            }
            // Torch leaves the gradients untouched when it raises; so must we.
            for (parameter, input) in zip(parameters, inputs) { #expect(same(parameter.gradient, input), "\(name)") }
            return
        }
        let total = try GradientClipping.clipGradNorm(parameters, maxNorm: maxNorm, normType: normType, errorIfNonfinite: errorIfNonfinite)
        let torchTotal = number(spec["total_norm"])
        let reference = number(spec["float64_reference_norm"])
        if torchTotal.isNaN {
            #expect(total.isNaN, "\(name)")
        } else if (torchTotal.isInfinite || torchTotal == 0) && reference.isFinite && reference != torchTotal {
            // Torch's float32 sums overflowed (norms above ~1.8e19) or underflowed (below ~1e-23);
            // ours accumulate in Double and give the true norm. A documented difference (docs/hooks.md).
            #expect(abs(total - reference) <= 1e-6 * reference, "\(name): \(total) vs exact \(reference)")
            let coefficient = GradientClipping.coefficient(maxNorm: maxNorm, totalNorm: reference)
            for (parameter, input) in zip(parameters, inputs) {
                #expect(same(parameter.gradient, input.map { $0 * coefficient }), "\(name)")
            }
            return
        } else if torchTotal.isInfinite {
            #expect(total.isInfinite, "\(name)")
        } else {
            // Torch sums in float32 in its own order: a few float32 ulps apart.
            #expect(abs(Float(total) - Float(torchTotal)) <= 4 * Float(torchTotal).ulp, "\(name): \(total) vs \(torchTotal)")
        }
        #expect(parameters.count == expectedAfter.count)
        for (parameter, expected) in zip(parameters, expectedAfter) {
            // The clipped values are grads × coefficient; a coefficient a few ulps off moves them by as much.
            for (ours, theirs) in zip(parameter.gradient, expected) {
                let close = (ours.isNaN && theirs.isNaN) || ours == theirs || abs(ours - theirs) <= 8 * max(abs(theirs).ulp, Float.leastNormalMagnitude)
                #expect(close, "\(name): \(ours) vs \(theirs)")
            }
        }
    }

    private func same(_ a: [Float], _ b: [Float]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { ($0.isNaN && $1.isNaN) || ($0 == $1 && $0.sign == $1.sign) }
    }
}
