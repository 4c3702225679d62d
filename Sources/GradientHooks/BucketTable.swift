import TensorBoardEvents

/// TensorFlow's bucket index for a Float in two table reads and one comparison, exactly.
///
/// The key is a float's sign, exponent and top 5 mantissa bits: 16,384 slices of the number line,
/// each narrower (at most ×1.032) than a bucket (×1.1), so a slice holds at most one bucket edge.
/// For each slice the table keeps the bucket of its smallest value and the smallest Float at or
/// above the edge inside it (+∞ when there is none): `index = base + (value >= threshold)`, the
/// comparison done on the floats' bits made sortable as integers, so it stays in integer registers.
/// Built once from `TensorFlowBuckets.limits` and checked against `TensorFlowBuckets.index(of:)`
/// (the `std::upper_bound` definition) by the tests, on every Float near every edge.
public struct FloatBucketTable: Sendable {
    public static let shared = FloatBucketTable()

    static let mantissaBits = 5
    static let shift = 23 - mantissaBits
    static let slices = 1 << (9 + mantissaBits)

    /// Per slice, one 8-byte word: the base bucket in the low 32 bits, the threshold's bit
    /// pattern in the high 32 (the layout the C kernel reads).
    let entries: [UInt64]

    init() {
        var entries = [UInt64](repeating: 0, count: Self.slices)
        let limits = TensorFlowBuckets.limits
        for key in 0..<Self.slices {
            let first = UInt32(key) << UInt32(Self.shift)
            let last = first | ((1 << UInt32(Self.shift)) - 1)
            let a = Float(bitPattern: first)
            let b = Float(bitPattern: last)
            // NaN and infinity slices (exponent 255) are never looked up: callers count them apart.
            guard a.isFinite, b.isFinite else {
                entries[key] = Self.entry(base: limits.count - 1, threshold: .infinity)
                continue
            }
            let low = min(a, b)
            let high = max(a, b)
            let base = TensorFlowBuckets.upperBoundIndex(of: Double(low))
            var threshold = Float.infinity
            if base < limits.count - 1 {
                let edge = limits[base]  // the first edge above `low`
                if edge <= Double(high) {
                    // The smallest Float whose value is >= edge.
                    var candidate = Float(edge)
                    if Double(candidate) < edge { candidate = candidate.nextUp }
                    while Double(candidate.nextDown) >= edge { candidate = candidate.nextDown }
                    threshold = candidate
                    precondition(base + 1 >= limits.count - 1 || limits[base + 1] > Double(high), "a slice holds two edges")
                }
            }
            entries[key] = Self.entry(base: base, threshold: threshold)
        }
        self.entries = entries
    }

    /// A float's bits as an integer that orders like the float (negatives' magnitude bits flipped;
    /// -0.0 lands just below +0.0).
    @inline(__always)
    static func sortable(_ bits: UInt32) -> Int32 {
        let flip = UInt32(bitPattern: Int32(bitPattern: bits) >> 31) & 0x7FFF_FFFF
        return Int32(bitPattern: bits ^ flip)
    }

    static func entry(base: Int, threshold: Float) -> UInt64 {
        // A threshold of 0 must also admit -0.0 (IEEE: -0.0 >= 0), which sorts just below +0.0.
        let key = threshold == 0 ? sortable((-0.0 as Float).bitPattern) : sortable(threshold.bitPattern)
        return UInt64(UInt32(bitPattern: key)) << 32 | UInt64(UInt32(base))
    }

    /// The bucket of a finite `value`.
    @inline(__always)
    public func index(of value: Float) -> Int {
        entries.withUnsafeBufferPointer { Self.index(of: value, in: $0) }
    }

    @inline(__always)
    static func index(of value: Float, in table: UnsafeBufferPointer<UInt64>) -> Int {
        let bits = value.bitPattern
        let entry = table[Int(bits >> UInt32(shift))]
        let threshold = Int32(bitPattern: UInt32(truncatingIfNeeded: entry >> 32))
        return Int(UInt32(truncatingIfNeeded: entry)) &+ (sortable(bits) >= threshold ? 1 : 0)
    }
}

/// The same for Double values, on sign, exponent and top 5 mantissa bits (131,072 slices), built
/// on first use.
public struct DoubleBucketTable: Sendable {
    public static let shared = DoubleBucketTable()

    static let mantissaBits = 5
    static let shift = 52 - mantissaBits
    static let slices = 1 << (12 + mantissaBits)

    let bases: [UInt32]
    let thresholds: [Double]

    init() {
        var bases = [UInt32](repeating: 0, count: Self.slices)
        var thresholds = [Double](repeating: .infinity, count: Self.slices)
        let limits = TensorFlowBuckets.limits
        for key in 0..<Self.slices {
            let first = UInt64(key) << UInt64(Self.shift)
            let last = first | ((1 << UInt64(Self.shift)) - 1)
            let a = Double(bitPattern: first)
            let b = Double(bitPattern: last)
            guard a.isFinite, b.isFinite else {
                bases[key] = UInt32(limits.count - 1)
                continue
            }
            let low = min(a, b)
            let high = max(a, b)
            let base = TensorFlowBuckets.upperBoundIndex(of: low)
            bases[key] = UInt32(base)
            if base < limits.count - 1, limits[base] <= high {
                thresholds[key] = limits[base]
            }
        }
        self.bases = bases
        self.thresholds = thresholds
    }

    @inline(__always)
    public func index(of value: Double) -> Int {
        let key = Int(value.bitPattern >> UInt64(Self.shift))
        return bases.withUnsafeBufferPointer { bases in
            thresholds.withUnsafeBufferPointer { thresholds in
                Int(bases[key]) &+ (value >= thresholds[key] ? 1 : 0)
            }
        }
    }
}
