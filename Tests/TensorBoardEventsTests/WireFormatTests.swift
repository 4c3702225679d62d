import Testing

@testable import TensorBoardEvents

@Suite struct WireFormatTests {
    @Test(arguments: [
        (UInt64(0), 1), (127, 1), (128, 2), (16_383, 2), (16_384, 3), (1 << 32, 5),
        (UInt64(Int64.max), 9), (UInt64.max, 10),
    ])
    func varintRoundTrip(value: UInt64, size: Int) throws {
        #expect(Varint.size(value) == size)
        var storage = [UInt8](repeating: 0, count: 10)
        let written = storage.withUnsafeMutableBufferPointer { Varint.write(value, to: $0.baseAddress!) }
        #expect(written == size)
        let decoded = try storage.withUnsafeBytes { bytes in
            var reader = ProtoReader(UnsafeRawBufferPointer(rebasing: bytes[0..<written]))
            return try reader.varint()
        }
        #expect(decoded == value)
    }

    @Test(arguments: [Int64(-1), -5, Int64.min, 1 << 40, 0])
    func negativeStepsTakeTenBytes(step: Int64) throws {
        let expected = step < 0 ? 10 : Varint.size(UInt64(step))
        #expect(Varint.size(step) == expected)
    }

    @Test func truncatedAndOverlongVarintsAreErrors() {
        let truncated: [UInt8] = [0x80, 0x80]
        #expect(throws: WireError.truncated) {
            try truncated.withUnsafeBytes { bytes in
                var reader = ProtoReader(bytes)
                _ = try reader.varint()
            }
        }
        let overlong = [UInt8](repeating: 0xFF, count: 11) + [0x01]
        #expect(throws: WireError.malformed) {
            try overlong.withUnsafeBytes { bytes in
                var reader = ProtoReader(bytes)
                _ = try reader.varint()
            }
        }
    }

    /// A length prefix larger than the message is rejected before anything is read or allocated.
    @Test func lengthBeyondTheMessageIsTruncated() {
        let bytes: [UInt8] = [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x41]  // field 1, length 2^32-1
        #expect(throws: WireError.truncated) {
            try bytes.withUnsafeBytes { raw in
                var reader = ProtoReader(raw)
                _ = try reader.nextField()
                _ = try reader.lengthDelimited()
            }
        }
    }

    /// Unknown fields of every wire type are skipped; known ones around them still decode.
    @Test func unknownFieldsAreSkipped() throws {
        var bytes: [UInt8] = []
        bytes += [0x09] + withUnsafeBytes(of: (1.5e9).bitPattern.littleEndian, Array.init)  // wall_time
        bytes += [0x10, 0x07]  // step 7
        bytes += [0xF8, 0x07, 0x96, 0x01]  // field 127 varint
        bytes += [0xF9, 0x07] + [UInt8](repeating: 1, count: 8)  // field 127 fixed64
        bytes += [0xFD, 0x07, 1, 2, 3, 4]  // field 127 fixed32
        bytes += [0xFA, 0x07, 0x03, 9, 9, 9]  // field 127 bytes
        bytes += [0x1A, 0x0D] + Array("brain.Event:2".utf8)
        let event = try bytes.withUnsafeBytes { try EventDecoder.decode($0) }
        #expect(event.wallTime == 1.5e9)
        #expect(event.step == 7)
        guard case .fileVersion("brain.Event:2") = event.content else {
            Issue.record("file_version lost: \(event.content)")
            return
        }
    }

    @Test func groupsAreMalformed() {
        let bytes: [UInt8] = [0x0B, 0x0C]  // start group 1, end group 1
        #expect(throws: WireError.malformed) {
            try bytes.withUnsafeBytes { _ = try EventDecoder.decode($0) }
        }
    }
}
