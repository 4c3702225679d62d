import CGradAlertCRC32C
import GradAlertTestSupport
import Testing

@testable import TensorBoardEvents

@Suite struct CRC32CTests {
    @Test(arguments: [
        (Array("123456789".utf8), UInt32(0xE306_9283)),
        ([UInt8](repeating: 0, count: 32), UInt32(0x8A91_36AA)),
        ([UInt8](repeating: 0xFF, count: 32), UInt32(0x62A8_AB43)),
        (Array(0..<32).map(UInt8.init), UInt32(0x46DD_794E)),
        ([], UInt32(0)),
    ])
    func knownAnswers(bytes: [UInt8], expected: UInt32) {
        #expect(CRC32C.checksum(bytes) == expected)
        #expect(bytes.withUnsafeBytes { gradalert_crc32c_portable(0, $0.baseAddress, $0.count) } == expected)
        if gradalert_crc32c_has_hardware() != 0 {
            #expect(bytes.withUnsafeBytes { gradalert_crc32c_hardware(0, $0.baseAddress, $0.count) } == expected)
        }
        if gradalert_crc32c_has_folding() != 0 {
            #expect(bytes.withUnsafeBytes { gradalert_crc32c_folding(0, $0.baseAddress, $0.count) } == expected)
        }
    }

    /// The folding path's blocks are 2 KiB, 8 KiB and 128 KiB: zeros and a byte ramp that fill them
    /// exactly agree with the portable path (which the short known answers above pin down).
    @Test(arguments: [2048, 4096, 8192, 10_240, 131_072, 139_264])
    func foldingOnWholeBlocks(length: Int) {
        let zeros = [UInt8](repeating: 0, count: length)
        let ramp = (0..<length).map { UInt8(truncatingIfNeeded: $0) }
        for bytes in [zeros, ramp] {
            let expected = bytes.withUnsafeBytes { gradalert_crc32c_portable(0, $0.baseAddress, $0.count) }
            #expect(CRC32C.checksum(bytes) == expected)
            if gradalert_crc32c_has_folding() != 0 {
                #expect(bytes.withUnsafeBytes { gradalert_crc32c_folding(0, $0.baseAddress, $0.count) } == expected)
            }
        }
    }

    @Test func maskedKnownAnswer() {
        let bytes = Array("\u{1a}\u{11}CRC test, one two".utf8)
        #expect(bytes.withUnsafeBytes { CRC32C.masked($0) } == 0x5794_D08A)
        #expect(CRC32C.unmask(CRC32C.mask(0xDEAD_BEEF)) == 0xDEAD_BEEF)
    }

    /// The first record of a real event file (TensorBoard's own tf_record.rs test): 24 bytes holding
    /// an Event with a wall time and `file_version: "brain.Event:2"`.
    @Test func firstRecordOfARealEventFile() throws {
        let length: [UInt8] = [0x18, 0, 0, 0, 0, 0, 0, 0]
        let data: [UInt8] = [0x09, 0x00, 0x00, 0x80, 0x38, 0x99, 0xd6, 0xd7, 0x41, 0x1a, 0x0d] + Array("brain.Event:2".utf8)
        #expect(data.count == 24)
        #expect(length.withUnsafeBytes { CRC32C.masked($0) } == 0x224B_7FA3)
        #expect(data.withUnsafeBytes { CRC32C.masked($0) } == 0xAB36_4B12)
        let framed = TFRecord.frame(data)
        #expect(Array(framed[0..<12]) == length + [0xa3, 0x7f, 0x4b, 0x22])
        #expect(Array(framed[36..<40]) == [0x12, 0x4b, 0x36, 0xab])
        let event = try data.withUnsafeBytes { try EventDecoder.decode($0) }
        guard case .fileVersion(let version) = event.content else {
            Issue.record("expected a file_version event, got \(event.content)")
            return
        }
        #expect(version == "brain.Event:2")
        #expect(event.wallTime > 1.5e9 && event.wallTime < 1.7e9)
    }

    /// Hardware, folding and portable paths agree on random buffers of random lengths (crossing
    /// the 3×256 and 3×8192-byte interleaving thresholds and the folding path's 2 KiB, 8 KiB and
    /// 128 KiB blocks) at every alignment, and when continued in pieces.
    @Test func hardwareMatchesPortable() {
        var random = TestRandom(seed: 7)
        let buffer = (0..<400_000).map { _ in UInt8.random(in: 0...255, using: &random) }
        let lengths = [0, 1, 7, 8, 9, 63, 767, 768, 769, 1000, 2047, 2048, 2049, 2200, 4095, 4096, 6143, 6144,
                       8191, 8192, 8193, 16_384, 24_575, 24_576, 24_577,
                       50_000, 99_000, 131_071, 131_072, 131_073, 139_264, 270_000, 398_000]
            + (0..<200).map { _ in Int.random(in: 0..<398_000, using: &random) }
        buffer.withUnsafeBytes { bytes in
            for length in lengths {
                let start = Int.random(in: 0...min(1000, bytes.count - length), using: &random)
                let base = bytes.baseAddress! + start
                let portable = gradalert_crc32c_portable(0, base, length)
                #expect(gradalert_crc32c(0, base, length) == portable, "length \(length) at offset \(start)")
                if gradalert_crc32c_has_hardware() != 0 {
                    #expect(gradalert_crc32c_hardware(0, base, length) == portable, "length \(length) at offset \(start)")
                }
                if gradalert_crc32c_has_folding() != 0 {
                    #expect(gradalert_crc32c_folding(0, base, length) == portable, "length \(length) at offset \(start)")
                    let seed = UInt32.random(in: 0...UInt32.max, using: &random)
                    #expect(gradalert_crc32c_folding(seed, base, length) == gradalert_crc32c_portable(seed, base, length))
                }
                let split = length / 3
                let continued = gradalert_crc32c(gradalert_crc32c(0, base, split), base + split, length - split)
                #expect(continued == portable)
            }
        }
    }

    /// Every length up to 800 bytes (one chain below 64, three chains joined by carry-less
    /// multiplication up to 767, the 3 × 256 tier above), at two alignments and from a random
    /// starting register, against the portable path.
    @Test func everyShortLength() {
        var random = TestRandom(seed: 11)
        let buffer = (0..<808).map { _ in UInt8.random(in: 0...255, using: &random) }
        buffer.withUnsafeBytes { bytes in
            for length in 0...800 {
                for start in [0, 3] {
                    let base = bytes.baseAddress! + start
                    let seed = UInt32.random(in: 0...UInt32.max, using: &random)
                    let portable = gradalert_crc32c_portable(seed, base, length)
                    #expect(gradalert_crc32c(seed, base, length) == portable, "length \(length) at offset \(start)")
                    if gradalert_crc32c_has_hardware() != 0 {
                        #expect(gradalert_crc32c_hardware(seed, base, length) == portable, "length \(length)")
                    }
                }
            }
        }
    }

    /// The first offset where a header verifies and claims at most `bound` bytes, found the slow
    /// way (the masked CRC of each offset's 8 bytes, in Swift); `bytes.count` if there is none.
    func referenceHeaderSearch(_ bytes: UnsafeRawBufferPointer, _ bound: UInt64) -> Int {
        guard bytes.count >= TFRecord.headerSize else { return bytes.count }
        for offset in 0...(bytes.count - TFRecord.headerSize) {
            let length = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self).littleEndian
            let stored = bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self).littleEndian
            let lengthBytes = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + 8)])
            if CRC32C.masked(lengthBytes) == stored, length <= bound { return offset }
        }
        return bytes.count
    }

    /// The dispatched, hardware and portable searches all return what the slow way finds.
    func expectSearchesAgree(_ bytes: UnsafeRawBufferPointer, _ bound: UInt64, _ comment: Comment) {
        let expected = referenceHeaderSearch(bytes, bound)
        #expect(gradalert_find_record_header(bytes.baseAddress, bytes.count, bound) == expected, comment)
        #expect(gradalert_find_record_header_hardware(bytes.baseAddress, bytes.count, bound) == expected, comment)
        #expect(gradalert_find_record_header_portable(bytes.baseAddress, bytes.count, bound) == expected, comment)
    }

    /// The search after damage (`gradalert_find_record_header`), every path, against the slow way:
    /// random bytes, zeros and 0xff of every length to 100 (the 32-candidate groups and the
    /// candidates after them) with a header planted at a random place, from 9 starting offsets
    /// (every alignment), under bounds either side of 2^31 and 2^32 (the pre-filter's limit); then
    /// a larger buffer with 100 planted headers, each found in turn from just past the last.
    /// (Tools/benchmarks/resync/check_find.c checks far more, against a bit-at-a-time CRC.)
    @Test func recordHeaderSearchMatchesACheckOfEveryOffset() {
        var random = TestRandom(seed: 21)
        let bounds: [UInt64] = [.max, 1 << 31, 4080, 0, (1 << 32) - 1, 1 << 32]
        let lengths: [UInt64] = [0, 24, 4080, 4081, 1 << 31, (1 << 31) + 1, (1 << 32) - 1, 1 << 32, (1 << 32) + 24, .max]
        for fill in 0..<3 {
            let filler: UInt8 = fill == 1 ? 0 : 0xFF
            for count in 0...100 {
                var bytes = (0..<count).map { _ in fill == 0 ? UInt8.random(in: 0...255, using: &random) : filler }
                if count >= 12 {
                    let at = Int.random(in: 0...(count - 12), using: &random)
                    let length = lengths[Int.random(in: 0..<lengths.count, using: &random)]
                    bytes.replaceSubrange(at..<(at + 12), with: recordHeader(claiming: length))
                }
                bytes.withUnsafeBytes { all in
                    for start in 0...min(8, count) {
                        let rest = UnsafeRawBufferPointer(rebasing: all[start...])
                        for bound in bounds {
                            expectSearchesAgree(rest, bound, "fill \(fill), \(count) bytes from \(start), bound \(bound)")
                        }
                    }
                }
            }
        }
        var bytes = (0..<20_000).map { _ in UInt8.random(in: 0...255, using: &random) }
        for _ in 0..<100 {
            let at = Int.random(in: 0...(bytes.count - 12), using: &random)
            let length = lengths[Int.random(in: 0..<lengths.count, using: &random)]
            bytes.replaceSubrange(at..<(at + 12), with: recordHeader(claiming: length))
        }
        bytes.withUnsafeBytes { all in
            for bound in bounds {
                var from = 0
                var found = 0
                while from <= all.count {
                    let rest = UnsafeRawBufferPointer(rebasing: all[from...])
                    expectSearchesAgree(rest, bound, "from \(from), bound \(bound)")
                    let next = referenceHeaderSearch(rest, bound)
                    if next == rest.count { break }
                    found += 1
                    from += next + 1
                }
                if bound == .max { #expect(found > 50) }
            }
        }
    }

    @Test func implementationIsNamed() {
        #expect(["sse4.2+vpclmulqdq", "sse4.2+pclmul", "sse4.2", "armv8-crc", "portable"].contains(CRC32C.implementation))
        #if arch(x86_64)
        // Every x86-64 machine this project runs on has SSE4.2; the dispatcher must pick it, and
        // the folding path with it when the CPU has AVX2 and VPCLMULQDQ.
        #expect(CRC32C.implementation.hasPrefix("sse4.2"))
        #expect((CRC32C.implementation == "sse4.2+vpclmulqdq") == (gradalert_crc32c_has_folding() != 0))
        #endif
    }
}
