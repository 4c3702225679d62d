/// Base-128 varints, as protobuf lays them out: seven bits a byte, least significant first, the
/// high bit set on every byte but the last.
enum Varint {
    /// Encoded size in bytes (1...10), without a loop or a branch.
    @inline(__always)
    static func size(_ value: UInt64) -> Int {
        let leadingZeros = value.leadingZeroBitCount
        return ((UInt64.bitWidth &* 9 &+ 64) &- (leadingZeros &* 9)) / 64
    }

    /// Encoded size of a signed value: negative int64s take ten bytes (two's complement).
    @inline(__always)
    static func size(_ value: Int64) -> Int {
        size(UInt64(bitPattern: value))
    }

    /// Writes `value` at `pointer` and returns the number of bytes written.
    @inline(__always)
    static func write(_ value: UInt64, to pointer: UnsafeMutablePointer<UInt8>) -> Int {
        var value = value
        var index = 0
        while value >= 0x80 {
            pointer[index] = UInt8(truncatingIfNeeded: value) | 0x80
            value &>>= 7
            index &+= 1
        }
        pointer[index] = UInt8(truncatingIfNeeded: value)
        return index &+ 1
    }
}
