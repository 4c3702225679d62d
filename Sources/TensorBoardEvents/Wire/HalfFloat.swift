/// IEEE binary16 ("half") values given as their bit patterns: TensorFlow's DT_HALF tensors, and
/// half-precision gradients. Every binary16 value is exact as a Float, so converting never rounds.
package enum HalfFloat {
    /// The Float with the same value (NaN payloads and the sign of zero kept).
    @inline(__always)
    package static func float(fromBits bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1f
        let mantissa = UInt32(bits & 0x3ff)
        if exponent == 0 {
            // Zero or subnormal: exact as a float.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign != 0 ? -magnitude : magnitude
        }
        if exponent == 31 {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }

    package static func double(fromBits bits: UInt16) -> Double { Double(float(fromBits: bits)) }
}
