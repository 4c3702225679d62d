#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// TensorFlow's default histogram layout (`tensorflow/core/lib/histogram/histogram.cc`): right
/// edges at ±1e-12·1.1^k for as long as that stays below 1e20, mirrored, with 0 in the middle and
/// ±Double.greatestFiniteMagnitude at the ends — 1,551 edges. The powers are built by repeated
/// multiplication exactly as TensorFlow builds them, so every edge is bit-for-bit TensorFlow's.
///
/// Bucket `i` counts values `v` with `limits[i-1] <= v < limits[i]` (TensorFlow's `Histogram::Add`
/// takes the first limit greater than `v`).
public enum TensorFlowBuckets {
    /// The positive powers 1e-12·1.1^k below 1e20.
    static let powers: [Double] = {
        var result: [Double] = []
        var value = 1.0e-12
        while value < 1.0e20 {
            result.append(value)
            value *= 1.1
        }
        return result
    }()

    /// All right edges, ascending: -DBL_MAX, -p[n-1] ... -p[0], 0, p[0] ... p[n-1], DBL_MAX.
    public static let limits: [Double] = {
        var result: [Double] = [-Double.greatestFiniteMagnitude]
        result.append(contentsOf: powers.reversed().map { -$0 })
        result.append(0)
        result.append(contentsOf: powers)
        result.append(Double.greatestFiniteMagnitude)
        return result
    }()

    /// Number of buckets (= number of limits).
    public static var count: Int { limits.count }

    private static let logBase = log(1.1)

    /// The bucket TensorFlow puts a finite `value` in: the index of the first limit greater than
    /// `value`. The one value no limit exceeds, Double.greatestFiniteMagnitude, goes to the last
    /// bucket. Non-finite values have no bucket: callers count them apart.
    @inline(__always)
    public static func index(of value: Double) -> Int {
        let powers = Self.powers
        let n = powers.count
        return powers.withUnsafeBufferPointer { p in
            if value > 0 {
                // Smallest k with p[k] > value (n: beyond every power, the DBL_MAX bucket).
                var k = estimate(value, n)
                while k > 0 && p[k - 1] > value { k -= 1 }
                while k < n && p[k] <= value { k += 1 }
                return n + 2 + k
            } else if value == 0 {
                return n + 2
            } else {
                // m = number of powers below |value|; the first limit above value is -p[m-1].
                let magnitude = -value
                var m = estimate(magnitude, n)
                while m > 0 && p[m - 1] >= magnitude { m -= 1 }
                while m < n && p[m] < magnitude { m += 1 }
                return n - m + 1
            }
        }
    }

    @inline(__always)
    private static func estimate(_ magnitude: Double, _ n: Int) -> Int {
        let guess = log(magnitude / 1.0e-12) / logBase
        if !(guess > 0) { return 0 }
        if guess >= Double(n) { return n }
        return Int(guess)
    }

    /// The reference definition, a binary search (C++'s `std::upper_bound`); tests hold `index(of:)`
    /// to it.
    public static func upperBoundIndex(of value: Double) -> Int {
        var low = 0
        var high = limits.count
        while low < high {
            let middle = (low + high) / 2
            if limits[middle] > value { high = middle } else { low = middle + 1 }
        }
        return min(low, limits.count - 1)
    }
}
