import TensorBoardEvents

/// TensorFlow's bucket index for a Float in one table read and one comparison, exactly.
///
/// The key is a float's sign, exponent and top 4 mantissa bits: 8,192 slices of the number line,
/// each narrower (at most ×1.0625) than a bucket (×1.1), so a slice holds at most one bucket edge.
/// For each slice one 32-bit word keeps the bucket of its smallest value and where in the slice the
/// smallest Float at or above the edge inside it sits, if there is one:
/// `index = base + (value's position >= threshold's position)`, all in integer registers. The word
/// is the C kernel's layout (CGradAlertStats.h), 32 KiB in all: a quarter of the 128 KiB of 8-byte
/// entries on 5 mantissa bits it replaced, so values spread over many decades miss L1 less often.
/// Built once from `TensorFlowBuckets.limits` and checked against
/// `TensorFlowBuckets.upperBoundIndex(of:)` (the `std::upper_bound` definition) by the tests, on
/// every Float near every edge; the C harness (Tools/benchmarks/stats-c) checks the same
/// construction on all 2^32 Floats.
package struct FloatBucketTable: Sendable {
    package static let shared = FloatBucketTable()

    static let mantissaBits = 4
    /// A value's slice is its bits >> shift; its position in the slice, the low `shift` bits.
    static let shift = 23 - mantissaBits
    static let slices = 1 << (9 + mantissaBits)
    /// An entry's base bucket sits in its low 13 bits, the threshold's position above them.
    static let baseBits = 32 - shift

    /// Per slice, one 32-bit word: `(t - 1) << 13 | base`, where t is the threshold's position in
    /// the slice, or 2^19 when the slice holds no edge (the layout the C kernel reads).
    let entries: [UInt32]

    init() {
        entries = (0..<Self.slices).map { key in
            let first = UInt32(key) << UInt32(Self.shift)
            let a = Float(bitPattern: first)
            let b = Float(bitPattern: first | ((1 << UInt32(Self.shift)) - 1))
            // NaN and infinity slices (exponent 255) are never looked up: callers count them apart.
            let slice = BucketSlice(a.isFinite && b.isFinite ? (Double(min(a, b)), Double(max(a, b))) : nil)
            var threshold = Float.infinity
            if let edge = slice.edge {
                // The smallest Float whose value is >= edge.
                threshold = Float(edge)
                if Double(threshold) < edge { threshold = threshold.nextUp }
                while Double(threshold.nextDown) >= edge { threshold = threshold.nextDown }
            }
            return Self.entry(base: slice.base, threshold: threshold)
        }
    }

    /// A float's bits with a negative value's bits flipped: within a slice (one sign, one exponent,
    /// the same top mantissa bits) the low `shift` bits then grow with the value.
    @inline(__always)
    static func ordered(_ bits: UInt32) -> UInt32 {
        bits ^ UInt32(bitPattern: Int32(bitPattern: bits) >> 31)
    }

    static func entry(base: Int, threshold: Float) -> UInt32 {
        precondition(base < 1 << baseBits, "a bucket index wider than an entry's base field")
        // No edge in the slice: t = 2^shift, so t - 1 is all ones and no position passes it.
        var position: UInt32 = 1 << UInt32(shift)
        if threshold.isFinite {
            // A threshold of 0 must also admit -0.0 (IEEE: -0.0 >= 0), the largest value of its slice.
            let bits = threshold == 0 ? (-0.0 as Float).bitPattern : threshold.bitPattern
            position = ordered(bits) & ((1 << UInt32(shift)) - 1)
            // The edge lies above the slice's smallest value, so its threshold is never at position 0.
            precondition(position > 0, "a threshold at the first value of its slice")
        }
        return (position - 1) << UInt32(baseBits) | UInt32(base)
    }

    /// The bucket of a finite `value`.
    @inline(__always)
    package func index(of value: Float) -> Int {
        entries.withUnsafeBufferPointer { Self.index(of: value, in: $0) }
    }

    /// The value's position moved to the top of a word (`key`) passes the entry, whose top bits
    /// hold the threshold's position minus one, exactly when the value is at or above the threshold.
    @inline(__always)
    static func index(of value: Float, in table: UnsafeBufferPointer<UInt32>) -> Int {
        let bits = value.bitPattern
        let entry = table[Int(bits >> UInt32(shift))]
        let key = ordered(bits) << UInt32(baseBits)
        return Int(entry & ((1 << UInt32(baseBits)) - 1)) &+ (entry < key ? 1 : 0)
    }
}

/// The same for Double values, on sign, exponent and top 5 mantissa bits (131,072 slices), built
/// on first use.
package struct DoubleBucketTable: Sendable {
    package static let shared = DoubleBucketTable()

    static let mantissaBits = 5
    static let shift = 52 - mantissaBits
    static let slices = 1 << (12 + mantissaBits)

    let bases: [UInt32]
    let thresholds: [Double]

    init() {
        let slices = (0..<Self.slices).map { key in
            let first = UInt64(key) << UInt64(Self.shift)
            let a = Double(bitPattern: first)
            let b = Double(bitPattern: first | ((1 << UInt64(Self.shift)) - 1))
            return BucketSlice(a.isFinite && b.isFinite ? (min(a, b), max(a, b)) : nil)
        }
        bases = slices.map { UInt32($0.base) }
        thresholds = slices.map { $0.edge ?? .infinity }
    }

    @inline(__always)
    package func index(of value: Double) -> Int {
        let key = Int(value.bitPattern >> UInt64(Self.shift))
        return bases.withUnsafeBufferPointer { bases in
            thresholds.withUnsafeBufferPointer { thresholds in
                Int(bases[key]) &+ (value >= thresholds[key] ? 1 : 0)
            }
        }
    }
}

/// What both tables keep of one slice of the number line: the bucket of its smallest value, and the
/// bucket edge inside it, if there is one (a slice is narrower than a bucket, so it holds at most one).
struct BucketSlice {
    var base: Int
    var edge: Double?

    /// `bounds` is the slice's smallest and largest value; nil for the NaN and infinity slices,
    /// which are never looked up (callers count non-finite values apart).
    init(_ bounds: (low: Double, high: Double)?) {
        let limits = TensorFlowBuckets.limits
        guard let (low, high) = bounds else {
            base = limits.count - 1
            return
        }
        base = TensorFlowBuckets.upperBoundIndex(of: low)
        if base < limits.count - 1, limits[base] <= high {
            edge = limits[base]
            precondition(base + 1 >= limits.count - 1 || limits[base + 1] > high, "a slice holds two edges")
        }
    }
}
