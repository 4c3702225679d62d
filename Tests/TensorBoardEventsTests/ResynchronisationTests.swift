import Foundation
import GradAlertTestSupport
import Testing

@testable import TensorBoardEvents

/// A 12-byte TFRecord header that verifies and claims `length` bytes.
func recordHeader(claiming length: UInt64) -> [UInt8] {
    var header = withUnsafeBytes(of: length.littleEndian, Array.init)
    let crc = header.withUnsafeBytes { CRC32C.masked($0) }
    header += withUnsafeBytes(of: crc.littleEndian, Array.init)
    return header
}

/// The search after damage looks at every offset but a block at a time (the C search over all the
/// bytes the reader holds): it must stop where a search byte by byte stopped, with the same
/// message, wherever the record after the damage falls against the ends of the blocks, and must
/// not grow the reader's window however much it searches.
@Suite struct ResynchronisationTests {
    typealias Records = (bytes: [UInt8], offsets: [Int])

    /// Framed events with a wall time and a step, one per step, and the offset of each.
    static func stepRecords(_ steps: Range<Int>) -> Records {
        var bytes: [UInt8] = []
        var offsets: [Int] = []
        for step in steps {
            var event = ProtoBytes()
            event.double(field: 1, 1_700_000_000 + Double(step))
            event.varint(field: 2, UInt64(step))
            offsets.append(bytes.count)
            bytes += TFRecord.frame(event.bytes)
        }
        return (bytes, offsets)
    }

    /// Each entry as a line: an event as its offset and step, a diagnostic whole (message included).
    static func lines(_ reader: EventFileReader) -> [String] {
        reader.readAll().map { entry in
            switch entry {
            case .event(let event, let offset): "event @\(offset) step \(event.step)"
            case .diagnostic(let diagnostic): "\(diagnostic.problem.rawValue) @\(diagnostic.offset): \(diagnostic.message)"
            }
        }
    }

    /// The lines of `before` (steps from 0), the damage right after it and the search past
    /// `skipped` bytes, then `after` (steps from `firstStep`).
    static func expectedLines(before: Records, skipped: Int, after: Records, firstStep: Int) -> [String] {
        let damage = before.bytes.count
        let resume = damage + skipped
        var lines = before.offsets.enumerated().map { "event @\($0.element) step \($0.offset)" }
        lines.append("bad_length_crc @\(damage): the length field does not match its CRC; skipped \(skipped) bytes to the next intact record at offset \(resume)")
        lines += after.offsets.enumerated().map { "event @\(resume + $0.element) step \(firstStep + $0.offset)" }
        return lines
    }

    /// Garbage of every length from 1 byte to a window and a bit, read through windows of several
    /// sizes, plain and gzip-compressed: the header after it lies inside a block, across a block's
    /// end, or at its very edge, and is found at its exact offset every time, as from memory.
    @Test(arguments: [64, 100, 1000])
    func recordAfterGarbageAtEveryPositionAgainstTheWindow(window: Int) throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/events.out.tfevents.1.garbage"
        let gzipPath = directory.path + "/events.out.tfevents.2.garbage.gz"
        let before = Self.stepRecords(0..<3)
        let after = Self.stepRecords(3..<6)
        var random = TestRandom(seed: UInt64(window))
        let noise = (0..<(window + 40)).map { _ in UInt8.random(in: 0...255, using: &random) }
        for length in 1...noise.count {
            var bytes = before.bytes
            bytes += noise[0..<length]
            bytes += after.bytes
            let expected = Self.expectedLines(before: before, skipped: length, after: after, firstStep: 3)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let reader = EventFileReader(path: path, bufferSize: window)
            #expect(Self.lines(reader) == expected, "\(length) bytes of garbage, a \(window)-byte window")
            #expect(reader.windowPlacement.fileOffset % 64 == 0, "\(length) bytes of garbage, a \(window)-byte window")
            #expect(Self.lines(EventFileReader(bytes: bytes)) == expected, "\(length) bytes of garbage, from memory")
            try Data(gzipped([bytes])).write(to: URL(fileURLWithPath: gzipPath))
            let gzipReader = EventFileReader(path: gzipPath, bufferSize: window)
            #expect(Self.lines(gzipReader) == expected, "\(length) bytes of garbage, gzip, a \(window)-byte window")
            #expect(gzipReader.gzipWindowCapacity == window)
        }
    }

    /// 3 MiB of zeros between records (a preallocated or zeroed stretch of a file), plain through
    /// windows of several sizes and gzip-compressed from disk and from memory: skipped exactly,
    /// and the gzip window never grows (a search that asked for more than it holds would grow it).
    @Test func zerosBetweenRecordsPlainAndGzipped() throws {
        let directory = try TemporaryDirectory()
        let before = Self.stepRecords(0..<3)
        let after = Self.stepRecords(3..<6)
        let zeros = 3 << 20
        var bytes = before.bytes
        bytes += [UInt8](repeating: 0, count: zeros)
        bytes += after.bytes
        let expected = Self.expectedLines(before: before, skipped: zeros, after: after, firstStep: 3)
        let path = directory.path + "/events.out.tfevents.1.zeros"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let compressed = gzipped([bytes])
        let gzipPath = directory.path + "/events.out.tfevents.2.zeros.gz"
        try Data(compressed).write(to: URL(fileURLWithPath: gzipPath))
        for window in [1 << 20, 4096, 64] {
            #expect(Self.lines(EventFileReader(path: path, bufferSize: window)) == expected, "a \(window)-byte window")
            let reader = EventFileReader(path: gzipPath, bufferSize: window)
            #expect(Self.lines(reader) == expected, "gzip, a \(window)-byte window")
            #expect(reader.gzipWindowCapacity == window)
        }
        let inMemory = EventFileReader(bytes: compressed)
        #expect(Self.lines(inMemory) == expected)
        #expect(inMemory.gzipWindowCapacity == 1 << 20)
    }

    /// Headers that verify inside the garbage but are not records: one claiming just over 2 GiB,
    /// one over 4 GiB (the C search's pre-filter looks at the high half of every length), and one
    /// whose data fails its CRC. The search passes over each and stops at the record after the
    /// garbage: from disk through several windows, from memory, and gzip-compressed.
    @Test func headersThatVerifyButAreNotRecordsArePassedOver() throws {
        let directory = try TemporaryDirectory()
        let before = Self.stepRecords(0..<2)
        let after = Self.stepRecords(2..<4)
        var random = TestRandom(seed: 99)
        var garbage = (0..<3000).map { _ in UInt8.random(in: 0...255, using: &random) }
        let planted: [(length: UInt64, at: Int)] = [((1 << 31) + 1, 100), ((1 << 32) + 24, 700), (20, 1500)]
        for header in planted {
            garbage.replaceSubrange(header.at..<(header.at + 12), with: recordHeader(claiming: header.length))
        }
        var bytes = before.bytes
        bytes += garbage
        bytes += after.bytes
        let expected = Self.expectedLines(before: before, skipped: garbage.count, after: after, firstStep: 2)
        let path = directory.path + "/events.out.tfevents.1.planted"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        for window in [64, 1000, 1 << 20] {
            #expect(Self.lines(EventFileReader(path: path, bufferSize: window)) == expected, "a \(window)-byte window")
        }
        #expect(Self.lines(EventFileReader(bytes: bytes)) == expected)
        #expect(Self.lines(EventFileReader(bytes: gzipped([bytes]))) == expected)
    }

    /// A header that verifies and claims more bytes than follow it. In a plain file the search
    /// stops there, at what may be a record still being written (reported next as truncated); in a
    /// gzip file, where it claims more than the reader's limit, it is passed over and the search
    /// goes on to the record after the garbage.
    @Test func aHeaderClaimingMoreThanFollowsStopsThePlainSearchNotTheGzipOne() throws {
        let directory = try TemporaryDirectory()
        let before = Self.stepRecords(0..<2)
        let after = Self.stepRecords(2..<4)
        var random = TestRandom(seed: 7)
        var garbage = (0..<600).map { _ in UInt8.random(in: 0...255, using: &random) }
        garbage.replaceSubrange(100..<112, with: recordHeader(claiming: 5000))
        var bytes = before.bytes
        bytes += garbage
        bytes += after.bytes
        let damage = before.bytes.count
        var plain = before.offsets.enumerated().map { "event @\($0.element) step \($0.offset)" }
        plain.append("bad_length_crc @\(damage): the length field does not match its CRC; skipped 100 bytes to the next intact record at offset \(damage + 100)")
        plain.append("truncated @\(damage + 100): the file ends \(bytes.count - damage - 100) bytes into a record that needs 5016; a writer may still be writing it")
        let path = directory.path + "/events.out.tfevents.1.claims"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(Self.lines(EventFileReader(path: path, bufferSize: 64)) == plain)
        #expect(Self.lines(EventFileReader(path: path)) == plain)
        #expect(Self.lines(EventFileReader(bytes: bytes)) == plain)
        let reader = EventFileReader(bytes: gzipped([bytes]), name: "claims.gz")
        reader.gzipRecordLimit = 4096
        #expect(Self.lines(reader) == Self.expectedLines(before: before, skipped: garbage.count, after: after, firstStep: 2))
    }
}
