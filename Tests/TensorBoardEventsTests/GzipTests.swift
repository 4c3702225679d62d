import Foundation
import GradAlertTestSupport
import Testing

@testable import TensorBoardEvents

/// Every entry of a reader, each as its full description: equal strings mean equal events, values,
/// offsets and diagnostics.
func describedEntries(_ reader: EventFileReader) -> [String] {
    reader.readAll().map { entry in
        switch entry {
        case .event(let event, let offset): "@\(offset) \(event)"
        case .diagnostic(let diagnostic): "diagnostic \(diagnostic.problem.rawValue) @\(diagnostic.offset)"
        }
    }
}

func fileBytes(_ path: String) throws -> [UInt8] {
    try [UInt8](#require(FileManager.default.contents(atPath: path)))
}

@Suite struct GzipTests {
    static let gzipDirectory = fixturesDirectory + "/gzip"

    /// Files compressed by gzip(1) itself (Tools/fixtures/gzip_fixtures.sh), each beside its source.
    static let pairs: [(compressed: String, source: String)] = [
        ("tensorboardx-histograms/events.out.tfevents.1795916572.gradalert-fixtures.gz",
         "tensorboardx/histograms/events.out.tfevents.1795916572.gradalert-fixtures"),
        ("tf2-scalars/events.out.tfevents.1795916572.gradalert-fixtures.8405.0.v2.gz",
         "tf2/scalars/events.out.tfevents.1795916572.gradalert-fixtures.8405.0.v2"),
    ]

    @Test(arguments: pairs.map(\.compressed))
    func gzipFileReadsExactlyAsItsSource(compressed: String) throws {
        let source = try #require(Self.pairs.first { $0.compressed == compressed }?.source)
        let expected = describedEntries(EventFileReader(path: fixturesDirectory + "/" + source))
        #expect(expected.count > 5)
        #expect(!expected.contains { $0.hasPrefix("diagnostic") })
        let path = Self.gzipDirectory + "/" + compressed
        #expect(describedEntries(EventFileReader(path: path)) == expected)
        // A 64-byte window: records larger than it, and a window dropped and refilled at every record.
        #expect(describedEntries(EventFileReader(path: path, bufferSize: 64)) == expected)
        #expect(describedEntries(EventFileReader(bytes: try fileBytes(path), name: path)) == expected)
    }

    /// A file several times larger than the reader's compressed input buffer (256 KiB) and its
    /// window, read from disk: every refill and window move lands on the right bytes.
    @Test func largeGzipFileOnDiskReadsExactlyAsItsSource() throws {
        let directory = try TemporaryDirectory()
        let writer = try SummaryWriter(logdir: directory.path)
        var random = TestRandom(seed: 11)
        for step in 0..<400 {
            let values = (0..<2_000).map { _ in Double(random.next() >> 11) * 0x1p-53 - 0.5 }
            try writer.histogram("grad/layer\(step % 7)", values: values, step: step)
            try writer.scalar("loss", 1 / Double(step + 1), step: step)
            // Random pixels: a PNG that does not compress, so the gzip file stays large.
            let pixels = (0..<(32 * 32 * 4)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            try writer.image("noise", rgba: pixels, width: 32, height: 32, step: step)
        }
        try writer.close()
        let source = try fileBytes(writer.path)
        let compressed = gzipped([source])
        #expect(compressed.count > 3 << 18)
        let path = directory.path + "/events.out.tfevents.1.gz"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(compressed)))
        let expected = describedEntries(EventFileReader(path: writer.path))
        #expect(expected.count == 1201)
        #expect(describedEntries(EventFileReader(path: path)) == expected)
        let small = EventFileReader(path: path, bufferSize: 1000)
        #expect(describedEntries(small) == expected)
        // The window grew for the largest record, and no further (doubling stops at the record).
        let offsets = EventFileReader(path: writer.path).readAll().compactMap { entry -> Int? in
            if case .event(_, let offset) = entry { return offset }
            return nil
        } + [source.count]
        let largest = zip(offsets, offsets.dropFirst()).map { $1 - $0 }.max() ?? 0
        #expect(largest > 4000)
        #expect(try #require(small.gzipWindowCapacity) <= largest)
    }

    /// A member that ends one or two bytes before the end of the reader's 256 KiB input buffer:
    /// the next member's first bytes are in the buffer, the rest of its header is not yet.
    @Test(arguments: [1, 2, 3])
    func memberEndingAtTheInputBufferEdge(bytesOfNextMember: Int) throws {
        let directory = try TemporaryDirectory()
        let second = try fileBytes(fixturesDirectory + "/" + Self.pairs[0].source)
        var random = TestRandom(seed: 5)
        let letters = (0..<(1 << 18)).map { _ in UInt8(ascii: "a") + UInt8(random.next() % 26) }
        // One record of random letters, stored (level 0) so the compressed size moves with the
        // record's length; find the length that ends the member where wanted.
        func record(_ length: Int) -> [UInt8] {
            var event = ProtoBytes()
            event.bytes(field: 3, Array(letters[0..<length]))
            return TFRecord.frame(event.bytes)
        }
        let target = (1 << 18) - bytesOfNextMember
        var length = target - 200
        while gzipped([record(length)], level: 0).count < target { length += 1 }
        let first = record(length)
        let firstMember = gzipped([first], level: 0)
        #expect(firstMember.count == target)
        let path = directory.path + "/events.out.tfevents.1.gz"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(firstMember + gzipped([second]))))
        let expected = describedEntries(EventFileReader(bytes: first + second))
        #expect(expected.count > 5)
        #expect(describedEntries(EventFileReader(path: path)) == expected)
    }

    /// A record larger than the reader decompresses at once is reported and passed over; the
    /// records after it are read.
    @Test func recordOverTheGzipLimitIsSkippedAndTheRestRead() throws {
        var big = ProtoBytes()
        big.varint(field: 2, 3)
        big.bytes(field: 3, [UInt8](repeating: 0, count: 100_000))
        let before = TFRecord.frame({ var e = ProtoBytes(); e.varint(field: 2, 1); return e.bytes }())
        let after = TFRecord.frame({ var e = ProtoBytes(); e.varint(field: 2, 5); return e.bytes }())
        let compressed = gzipped([before + TFRecord.frame(big.bytes) + after])
        let reader = EventFileReader(bytes: compressed, name: "big.gz")
        reader.gzipRecordLimit = 4096
        let entries = reader.readAll()
        #expect(entries.count == 3)
        guard entries.count == 3 else { return }
        if case .event(let event, _) = entries[0] { #expect(event.step == 1) } else { Issue.record("\(entries[0])") }
        if case .diagnostic(let diagnostic) = entries[1] {
            #expect(diagnostic.problem == .badRecord)
            #expect(diagnostic.offset == before.count)
            #expect(diagnostic.message.contains("gunzip"))
        } else { Issue.record("\(entries[1])") }
        if case .event(let event, _) = entries[2] { #expect(event.step == 5) } else { Issue.record("\(entries[2])") }
        #expect(try #require(reader.gzipWindowCapacity) <= 1 << 20)
        // Without the limit the same file reads whole.
        let whole = EventFileReader(bytes: compressed).readAll()
        #expect(whole.count == 3)
        #expect(whole.allSatisfy { if case .event = $0 { true } else { false } })
    }

    /// Damage that sends the reader searching for the next record, onto a header that verifies
    /// and claims more than the limit: its data cannot be checked without holding it, so it is not
    /// taken for a record (a header can verify by chance); the search goes on to the next record
    /// that verifies, and nothing is decompressed into memory beyond the window.
    @Test func resynchronisingOntoAHugeRecordDoesNotHoldIt() throws {
        var huge = TFRecord.frame([UInt8](repeating: 0, count: 1 << 20))
        huge.removeLast(4)
        huge += [0, 0, 0, 0]
        let after = TFRecord.frame({ var e = ProtoBytes(); e.varint(field: 2, 9); return e.bytes }())
        let compressed = gzipped([[0x55] + huge + after])
        #expect(compressed.count < 10_000)
        let reader = EventFileReader(bytes: compressed, name: "bomb.gz")
        reader.gzipRecordLimit = 4096
        let entries = reader.readAll()
        let problems = entries.compactMap { entry -> RecordDiagnostic.Problem? in
            if case .diagnostic(let diagnostic) = entry { return diagnostic.problem }
            return nil
        }
        #expect(problems == [.badLengthCRC])
        guard case .event(let last, let offset) = entries.last else {
            Issue.record("the record after the huge one was not read: \(entries)")
            return
        }
        #expect(last.step == 9)
        #expect(offset == 1 + huge.count)
        #expect(try #require(reader.gzipWindowCapacity) <= 1 << 20)
    }

    /// One or two bytes after the last member: the start of another member (a cut, which may yet be
    /// completed), or not (a stray newline or padding: ignored and reported).
    @Test(arguments: [([0x0a], "bad_compression"), ([0, 0], "bad_compression"), ([0x1f, 0x00], "bad_compression"),
                      ([0x1f], "truncated"), ([0x1f, 0x8b], "truncated")] as [([UInt8], String)])
    func oneOrTwoBytesAfterTheLastMember(tail: [UInt8], problem: String) throws {
        let source = try fileBytes(fixturesDirectory + "/" + Self.pairs[0].source)
        let compressed = gzipped([source])
        let expected = describedEntries(EventFileReader(bytes: source))
        let entries = describedEntries(EventFileReader(bytes: compressed + tail))
        #expect(Array(entries.dropLast()) == expected)
        #expect(entries.last == "diagnostic \(problem) @\(source.count)")
    }

    /// A gzip file on disk that grows: cut inside its trailer (every record read, the cut
    /// reported), then completed with a wrong CRC-32: the damage is reported, though at the same
    /// offset as the cut.
    @Test func damageAfterACutAtTheSameOffsetIsReported() throws {
        let directory = try TemporaryDirectory()
        let source = try fileBytes(fixturesDirectory + "/" + Self.pairs[0].source)
        var compressed = gzipped([source])
        compressed[compressed.count - 6] ^= 0xFF  // in the stored CRC-32
        let path = directory.path + "/events.out.tfevents.1.gz"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(compressed.dropLast(6))))
        let reader = EventFileReader(path: path)
        let first = describedEntries(reader)
        #expect(first.last == "diagnostic truncated @\(source.count)")
        #expect(first.filter { !$0.hasPrefix("diagnostic") }.count > 5)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(compressed.suffix(6)))
        try handle.close()
        #expect(describedEntries(reader) == ["diagnostic bad_compression @\(source.count)"])
        #expect(describedEntries(reader) == [])
    }

    /// A second member whose first bytes are all that is written yet: a cut, not junk; when the
    /// rest arrives, its records are read.
    @Test func aMemberStillBeingAppendedIsReadWhenItArrives() throws {
        let directory = try TemporaryDirectory()
        let files = try eventFiles(in: fixturesDirectory + "/tensorboardx/multifile")
        let first = try fileBytes(files[0])
        let second = try fileBytes(files[1])
        let secondMember = gzipped([second])
        let path = directory.path + "/events.out.tfevents.1.gz"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(gzipped([first]) + secondMember.prefix(2))))
        let reader = EventFileReader(path: path)
        let before = describedEntries(reader)
        #expect(before.last == "diagnostic truncated @\(first.count)")
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(secondMember.dropFirst(2)))
        try handle.close()
        let after = describedEntries(reader)
        let expected = describedEntries(EventFileReader(bytes: first + second))
        #expect(before.dropLast() + after == expected)
    }

    /// Zero padding after the data (some archivers pad to a block size), read from disk.
    @Test func zeroPaddingOnDiskIsReportedOnceAndEveryRecordRead() throws {
        let directory = try TemporaryDirectory()
        let source = try fileBytes(fixturesDirectory + "/" + Self.pairs[0].source)
        let path = directory.path + "/events.out.tfevents.1.gz"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(gzipped([source]) + [UInt8](repeating: 0, count: 512))))
        let entries = describedEntries(EventFileReader(path: path))
        #expect(Array(entries.dropLast()) == describedEntries(EventFileReader(bytes: source)))
        #expect(entries.last == "diagnostic bad_compression @\(source.count)")
    }

    /// `skip(to:)` at a record's offset, in the plain file and in its gzip copy: the records from
    /// there on, exactly; an offset behind the reader changes nothing.
    @Test func skipToARecordReadsTheRestInBothForms() throws {
        let source = fixturesDirectory + "/" + Self.pairs[0].source
        let compressed = Self.gzipDirectory + "/" + Self.pairs[0].compressed
        let full = describedEntries(EventFileReader(path: source))
        let offsets = EventFileReader(path: source).readAll().compactMap { entry -> Int? in
            if case .event(_, let offset) = entry { return offset }
            return nil
        }
        #expect(offsets.count > 5)
        for index in [1, offsets.count / 2, offsets.count - 1] {
            for path in [source, compressed] {
                let reader = EventFileReader(path: path)
                reader.skip(to: offsets[index])
                #expect(describedEntries(reader) == Array(full[index...]), "\(path) from record \(index)")
            }
        }
        let reader = EventFileReader(path: compressed)
        _ = reader.next()
        _ = reader.next()
        reader.skip(to: offsets[1])
        #expect(describedEntries(reader) == Array(full[2...]))
    }

    /// `(gzip a; gzip b) > ab.gz`: the second file's records follow the first's, at offsets after it.
    @Test func multiMemberFileReadsAsTheFilesOneAfterAnother() throws {
        let directory = fixturesDirectory + "/tensorboardx/multifile"
        let files = try eventFiles(in: directory)
        #expect(files.count == 2)
        let first = try fileBytes(files[0])
        let second = try fileBytes(files[1])
        let expected = describedEntries(EventFileReader(bytes: first + second))
        #expect(expected.filter { $0.contains("fileVersion") }.count == 2)
        let committed = Self.gzipDirectory + "/multimember/events.out.tfevents.1795916573.gradalert-fixtures.gz"
        #expect(describedEntries(EventFileReader(path: committed)) == expected)
        #expect(describedEntries(EventFileReader(bytes: gzipped([first, second]))) == expected)
        // An empty member between them changes nothing.
        #expect(describedEntries(EventFileReader(bytes: gzipped([first, [], second]))) == expected)
    }

    /// A gzip file cut at any byte: every record before the cut is read exactly, and the cut is
    /// reported (never a silent end) unless it falls exactly between two members.
    @Test func truncatedGzipKeepsEveryWholeRecordAndSaysSo() throws {
        let source = try fileBytes(fixturesDirectory + "/" + Self.pairs[0].source)
        let compressed = gzipped([source], level: 1)
        let full = describedEntries(EventFileReader(bytes: compressed))
        #expect(compressed.count > 1000)
        var previousCount = 0
        var cut = 0
        while cut < compressed.count {
            let entries = describedEntries(EventFileReader(bytes: Array(compressed[0..<cut]), name: "cut.gz"))
            let events = entries.filter { !$0.hasPrefix("diagnostic") }
            let diagnostics = entries.filter { $0.hasPrefix("diagnostic") }
            #expect(Array(full.prefix(events.count)) == events, "cut at \(cut)")
            #expect(events.count >= previousCount, "cut at \(cut)")
            if cut >= 3 {
                #expect(diagnostics.count == 1, "cut at \(cut): \(diagnostics)")
                #expect(diagnostics.first?.hasPrefix("diagnostic truncated") == true, "cut at \(cut)")
            }
            previousCount = events.count
            cut += 1
        }
        // The last 8 bytes (CRC-32 and length) missing: every record is there, and still reported.
        let noTrailer = describedEntries(EventFileReader(bytes: Array(compressed.dropLast(8))))
        #expect(noTrailer.filter { !$0.hasPrefix("diagnostic") } == full)
        #expect(noTrailer.filter { $0.hasPrefix("diagnostic truncated") }.count == 1)
    }

    /// One flipped byte anywhere in a gzip file: nothing crashes, every event read is one of the
    /// source's events in order with its own offset, and damage that changes the data is reported.
    @Test func damagedGzipNeverYieldsAWrongRecord() throws {
        let source = try fileBytes(fixturesDirectory + "/" + Self.pairs[0].source)
        let compressed = gzipped([source])
        let full = describedEntries(EventFileReader(bytes: compressed))
        var reportedDataErrors = 0
        for position in stride(from: 0, to: compressed.count, by: 7) {
            var damaged = compressed
            damaged[position] ^= 0x40
            let reader = EventFileReader(bytes: damaged, name: "damaged.gz")
            let entries = describedEntries(reader)
            let events = entries.filter { !$0.hasPrefix("diagnostic") }
            let diagnostics = entries.filter { $0.hasPrefix("diagnostic") }
            // A subsequence of the source's entries, in order.
            var rest = full[...]
            for event in events {
                guard let found = rest.firstIndex(of: event) else {
                    Issue.record("flip at \(position): an event not in the source: \(event.prefix(120))")
                    break
                }
                rest = full[(found + 1)...]
            }
            if events != full { #expect(!diagnostics.isEmpty, "flip at \(position) lost records silently") }
            if diagnostics.contains(where: { $0.hasPrefix("diagnostic bad_compression") }) { reportedDataErrors += 1 }
        }
        #expect(reportedDataErrors > 10)
    }

    @Test func damagedCompressedDataNamesTheFileAndTheCompressedByte() throws {
        let source = try fileBytes(fixturesDirectory + "/" + Self.pairs[0].source)
        var compressed = gzipped([source])
        // The stored (uncompressed) trailer's CRC-32 changed: zlib rejects the member at its end.
        compressed[compressed.count - 6] ^= 0xFF
        let diagnostics = EventFileReader(bytes: compressed, name: "runs/a/events.out.tfevents.1.gz").readAll().compactMap {
            if case .diagnostic(let diagnostic) = $0 { return diagnostic }
            return nil
        }
        let diagnostic = try #require(diagnostics.first)
        #expect(diagnostics.count == 1)
        #expect(diagnostic.problem == .badCompression)
        #expect(diagnostic.file == "runs/a/events.out.tfevents.1.gz")
        #expect(diagnostic.offset == source.count)
        #expect(diagnostic.message.contains("compressed byte"))
        #expect(diagnostic.message.contains("incorrect data check"))
    }

    @Test func bytesAfterTheLastMemberAreReportedAndIgnored() throws {
        let source = try fileBytes(fixturesDirectory + "/" + Self.pairs[0].source)
        let compressed = gzipped([source])
        let expected = describedEntries(EventFileReader(bytes: compressed))
        let entries = describedEntries(EventFileReader(bytes: compressed + Array("not gzip".utf8)))
        #expect(Array(entries.dropLast()) == expected)
        #expect(entries.last == "diagnostic bad_compression @\(source.count)")
    }

    @Test func randomBytesBehindTheGzipMagicAreADiagnosticNotACrash() {
        var random = TestRandom(seed: 7)
        for length in [3, 10, 18, 100, 5000] {
            let bytes: [UInt8] = [0x1f, 0x8b, 0x08] + (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            let entries = EventFileReader(bytes: bytes).readAll()
            #expect(!entries.isEmpty, "length \(length)")
            #expect(entries.allSatisfy { if case .diagnostic = $0 { true } else { false } }, "length \(length)")
        }
    }

    /// A TFRecord file whose first length field starts with the gzip magic (a 559,903-byte record:
    /// 1f 8b 08 00 ...) is still read as records: a header that verifies is never taken for gzip.
    @Test func aRecordFileThatLooksLikeGzipIsReadAsRecords() throws {
        var event = ProtoBytes()
        event.double(field: 1, 1_700_000_000)
        event.varint(field: 2, 7)
        event.bytes(field: 3, Array(repeating: UInt8(ascii: "x"), count: 0x08_8B1F - 15))
        #expect(event.bytes.count == 0x08_8B1F)
        let file = TFRecord.frame(event.bytes)
        #expect(Array(file.prefix(3)) == [0x1f, 0x8b, 0x08])
        let entries = EventFileReader(bytes: file).readAll()
        #expect(entries.count == 1)
        guard case .event(let decoded, 0) = entries.first else {
            Issue.record("not read as a record: \(String(describing: entries.first))")
            return
        }
        #expect(decoded.step == 7)
    }
}

/// Just enough protobuf encoding for hand-made events in tests.
struct ProtoBytes {
    var bytes: [UInt8] = []
    mutating func key(_ field: Int, _ wireType: UInt8) { varint(UInt64(field) << 3 | UInt64(wireType)) }
    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7f) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }
    mutating func varint(field: Int, _ value: UInt64) { key(field, 0); varint(value) }
    mutating func double(field: Int, _ value: Double) {
        key(field, 1)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }
    mutating func bytes(field: Int, _ value: [UInt8]) {
        key(field, 2)
        varint(UInt64(value.count))
        bytes += value
    }
}
