import CGradAlertCRC32C

/// CRC-32C (Castagnoli), the checksum of TFRecord framing. Not zlib's `crc32`, which computes the
/// IEEE polynomial: TensorBoard rejects frames checked with that one.
public enum CRC32C {
    /// CRC-32C of `bytes`, continuing from `crc` (0 to start).
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress else { return crc }
        return gradalert_crc32c(crc, base, bytes.count)
    }

    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        if let result = bytes.withContiguousStorageIfAvailable({ checksum(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        return Array(bytes).withUnsafeBytes { checksum($0) }
    }

    /// TFRecord's masked form: rotate right by 15 and add 0xa282ead8, so that a CRC stored inside
    /// checked data does not make the data's own CRC degenerate.
    @inlinable
    public static func mask(_ crc: UInt32) -> UInt32 {
        ((crc &>> 15) | (crc &<< 17)) &+ 0xa282_ead8
    }

    /// The inverse of `mask`.
    @inlinable
    public static func unmask(_ masked: UInt32) -> UInt32 {
        let rotated = masked &- 0xa282_ead8
        return (rotated &>> 17) | (rotated &<< 15)
    }

    /// Masked CRC-32C of `bytes`, as a TFRecord frame stores it.
    @inlinable
    public static func masked(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        mask(checksum(bytes))
    }

    /// Which implementation this CPU uses: "sse4.2+vpclmulqdq", "sse4.2+pclmul", "sse4.2",
    /// "armv8-crc" or "portable".
    public static var implementation: String { String(cString: gradalert_crc32c_implementation()) }
}
