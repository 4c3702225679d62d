#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials  // LocalizedError only
#else
import Foundation
#endif
import TensorBoardEvents

/// Clipping with PyTorch's semantics (`torch.nn.utils.clip_grad_norm_` / `clip_grad_value_`).
public enum GradientClipping {
    public struct NonFiniteNormError: LocalizedError, CustomStringConvertible {
        public var totalNorm: Double
        public var normType: Double
        public var description: String {
            "the total \(normType == .infinity ? "L∞" : "L\(normType)") norm of the gradients is \(totalNorm), so they cannot be clipped (errorIfNonfinite was set)"
        }
        public var errorDescription: String? { description }
    }

    /// The p-norm of one buffer: p = ∞ is max |g|; NaN anywhere gives NaN.
    public static func norm(_ gradient: UnsafeBufferPointer<Float>, type p: Double) -> Double {
        if p == 2 {
            var squares = 0.0
            for value in gradient {
                let d = Double(value)
                squares += d * d
            }
            return squares.squareRoot()
        }
        if p == .infinity {
            var largest = 0.0
            for value in gradient {
                if value.isNaN { return .nan }
                largest = Swift.max(largest, Double(Swift.abs(value)))
            }
            return largest
        }
        var total = 0.0
        for value in gradient { total += pow(Double(Swift.abs(value)), p) }
        return pow(total, 1 / p)
    }

    /// The p-norm of a buffer of any element type gradalert reads.
    public static func norm(_ buffer: GradientBuffer, type p: Double) -> Double {
        switch buffer {
        case .float(let values): return norm(values, type: p)
        case .double(let values): return norm(values.lazy.map { $0 }, type: p)
        case .float16(let values): return norm(values.lazy.map { HalfFloat.double(fromBits: $0) }, type: p)
        }
    }

    /// The p-norm of values already widened to Double (double and half-precision buffers).
    private static func norm(_ values: some Sequence<Double>, type p: Double) -> Double {
        if p == .infinity {
            var largest = 0.0
            for value in values {
                if value.isNaN { return .nan }
                largest = Swift.max(largest, Swift.abs(value))
            }
            return largest
        }
        if p == 2 { return values.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        return pow(values.reduce(0) { $0 + pow(Swift.abs($1), p) }, 1 / p)
    }

    /// The norm of the per-parameter norms (PyTorch's total norm).
    public static func totalNorm(_ norms: [Double], type p: Double) -> Double {
        if norms.isEmpty { return 0 }
        if p == .infinity {
            if norms.contains(where: \.isNaN) { return .nan }
            return norms.max()!
        }
        if p == 2 { return norms.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        return pow(norms.reduce(0) { $0 + pow($1, p) }, 1 / p)
    }

    /// PyTorch's clip coefficient, in float32 as PyTorch computes it: min(1, maxNorm / (total + 1e-6)).
    /// A NaN total gives NaN (and PyTorch then multiplies the gradients by it).
    public static func coefficient(maxNorm: Double, totalNorm: Double) -> Float {
        let coefficient = Float(maxNorm) / (Float(totalNorm) + 1e-6)
        if coefficient.isNaN { return .nan }
        return Swift.min(coefficient, 1)
    }

    /// Clips the gradients of `parameters` together so their total norm is at most `maxNorm`;
    /// returns the total norm before clipping.
    @discardableResult
    public static func clipGradNorm(
        _ parameters: [Parameter], maxNorm: Double, normType: Double = 2, errorIfNonfinite: Bool = false
    ) throws -> Double {
        let norms = parameters.map { parameter in parameter.gradient.withUnsafeBufferPointer { norm($0, type: normType) } }
        let (total, factor) = try clipping(norms: norms, maxNorm: maxNorm, normType: normType, errorIfNonfinite: errorIfNonfinite)
        for parameter in parameters {
            parameter.gradient.withUnsafeMutableBufferPointer { gradient in
                for index in gradient.indices { gradient[index] *= factor }
            }
        }
        return total
    }

    /// The step every global-norm clipping shares: the total norm of the per-gradient `norms` and
    /// the factor to scale every gradient by (1 when already within `maxNorm`).
    static func clipping(norms: [Double], maxNorm: Double, normType: Double, errorIfNonfinite: Bool) throws(NonFiniteNormError) -> (total: Double, factor: Float) {
        let total = totalNorm(norms, type: normType)
        if errorIfNonfinite && !total.isFinite { throw NonFiniteNormError(totalNorm: total, normType: normType) }
        return (total, coefficient(maxNorm: maxNorm, totalNorm: total))
    }

    /// Clamps every gradient element of `parameters` to [-clipValue, clipValue] (NaN stays NaN).
    public static func clipGradValue(_ parameters: [Parameter], _ clipValue: Float) {
        precondition(clipValue >= 0, "clipValue must not be negative")
        for parameter in parameters {
            parameter.gradient.withUnsafeMutableBufferPointer { gradient in
                for index in gradient.indices where !gradient[index].isNaN {
                    gradient[index] = Swift.min(Swift.max(gradient[index], -clipValue), clipValue)
                }
            }
        }
    }
}
