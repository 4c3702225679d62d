import CGradAlertCRC32C

/// TFRecord framing, the container of every event file:
///
///     uint64 length (little-endian) | uint32 masked_crc32c(length) | data[length] | uint32 masked_crc32c(data)
public enum TFRecord {
    /// Length field plus its CRC.
    public static let headerSize = 12
    /// The data CRC.
    public static let footerSize = 4
    /// Bytes a frame adds around its data.
    public static let overhead = headerSize + footerSize

    /// Frames `payloadSize` bytes, which `body` writes through the `ProtoWriter` it is handed,
    /// into `destination` (exactly `payloadSize + overhead` bytes).
    static func frame(
        into destination: UnsafeMutablePointer<UInt8>, payloadSize: Int, body: (inout ProtoWriter) -> Void
    ) {
        let raw = UnsafeMutableRawPointer(destination)
        raw.storeBytes(of: UInt64(payloadSize).littleEndian, as: UInt64.self)
        raw.storeBytes(of: gradalert_crc32c_masked(raw, 8).littleEndian, toByteOffset: 8, as: UInt32.self)
        let payload = UnsafeMutableBufferPointer(start: destination + headerSize, count: payloadSize)
        var writer = ProtoWriter(payload)
        body(&writer)
        precondition(writer.remaining == 0, "encoded size differs from the precomputed size")
        let dataCRC = gradalert_crc32c_masked(payload.baseAddress!, payloadSize)
        (raw + headerSize + payloadSize).storeBytes(of: dataCRC.littleEndian, as: UInt32.self)
    }

    /// One framed record holding `payload`.
    public static func frame(_ payload: [UInt8]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: payload.count + overhead) { buffer, count in
            frame(into: buffer.baseAddress!, payloadSize: payload.count) { writer in
                payload.withUnsafeBytes { writer.bytes($0) }
            }
            count = payload.count + overhead
        }
    }
}
