import Foundation
import GradAlertTestSupport
import Testing

@testable import TensorBoardEvents

/// Bad input gets a diagnostic naming file and offset, and every intact record is still read.
@Suite struct ReaderDamageTests {
    /// A file of `count` scalar records ("s", step i, value i), and the offset of each record.
    func writeFile(in directory: String, count: Int = 20) throws -> (path: String, offsets: [Int]) {
        let writer = try SummaryWriter(logdir: directory)
        for step in 0..<count { try writer.scalar("s", Double(step), step: step, wallTime: 1000 + Double(step)) }
        try writer.close()
        let offsets = EventFileReader(path: writer.path).readAll().compactMap { entry -> Int? in
            if case .event(_, let offset) = entry { return offset }
            return nil
        }
        return (writer.path, offsets)
    }

    func mutate(_ path: String, _ body: (inout [UInt8]) -> Void) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        body(&bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test func truncatedTailIsReportedAndResumedWhenTheFileGrows() throws {
        let directory = try TemporaryDirectory()
        let (path, offsets) = try writeFile(in: directory.path)
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let cut = offsets[15] + 17  // inside record 15 (the header record is offsets[0])
        try Data(original[0..<cut]).write(to: URL(fileURLWithPath: path))

        let reader = EventFileReader(path: path)
        var entries = reader.readAll()
        let diagnostics = entries.compactMap { if case .diagnostic(let d) = $0 { d } else { nil } }
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.problem == .truncated)
        #expect(diagnostics.first?.offset == offsets[15])
        #expect(diagnostics.first?.file == path)
        #expect(entries.count == 16)
        #expect(reader.offset == offsets[15])
        #expect(reader.next() == nil)  // reported once, not again until something changes

        // The writer finishes the record (split across two writes) and adds more.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(original[cut..<(cut + 3)]))
        #expect(reader.next() == nil || { if case .diagnostic(let d) = reader.next()! { return d.problem == .truncated } else { return false } }())
        try handle.write(contentsOf: Data(original[(cut + 3)...]))
        try handle.close()
        entries = reader.readAll()
        let steps = entries.compactMap { if case .event(let e, _) = $0 { e.step } else { nil } }
        #expect(steps == (14..<20).map(Int64.init))
    }

    @Test func flippedLengthByteResynchronises() throws {
        let directory = try TemporaryDirectory()
        let (path, offsets) = try writeFile(in: directory.path)
        try mutate(path) { $0[offsets[5] + 2] ^= 0x40 }
        let (events, diagnostics) = readEntries(path)
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.problem == .badLengthCRC)
        #expect(diagnostics.first?.offset == offsets[5])
        #expect(diagnostics.first?.message.contains("offset \(offsets[6])") == true)
        #expect(scalars(events).map(\.step) == (0..<20).filter { $0 != 4 }.map(Int64.init))
    }

    @Test func flippedDataByteSkipsOnlyThatRecord() throws {
        let directory = try TemporaryDirectory()
        let (path, offsets) = try writeFile(in: directory.path)
        try mutate(path) { $0[offsets[8] + 14] ^= 0x01 }
        let (events, diagnostics) = readEntries(path)
        #expect(diagnostics.map(\.problem) == [.badDataCRC])
        #expect(diagnostics.first?.offset == offsets[8])
        #expect(scalars(events).map(\.step) == (0..<20).filter { $0 != 7 }.map(Int64.init))
    }

    @Test func garbageInTheMiddleIsSkipped() throws {
        let directory = try TemporaryDirectory()
        let (path, offsets) = try writeFile(in: directory.path)
        var random = TestRandom(seed: 5)
        try mutate(path) { bytes in
            let junk = (0..<333).map { _ in UInt8.random(in: 0...255, using: &random) }
            bytes.insert(contentsOf: junk, at: offsets[10])
        }
        let (events, diagnostics) = readEntries(path)
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.offset == offsets[10])
        #expect(diagnostics.first?.message.contains("skipped 333 bytes") == true)
        #expect(scalars(events).count == 20)
    }

    @Test func validCRCsAroundAnInvalidEventAreABadRecord() throws {
        let directory = try TemporaryDirectory()
        let (path, _) = try writeFile(in: directory.path, count: 3)
        try mutate(path) { bytes in
            bytes += TFRecord.frame([0x0B, 0x0C, 0xFF])  // a group: not an Event
            bytes += TFRecord.frame([0x10, 0x05])  // step 5, nothing else: valid
        }
        let (events, diagnostics) = readEntries(path)
        #expect(diagnostics.map(\.problem) == [.badRecord])
        #expect(events.last?.step == 5)
        #expect(events.count == 5)
    }

    /// A length whose CRC matches but which no file could hold is not believed, and nothing of that
    /// size is allocated.
    @Test func absurdLengthWithValidCRC() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/events.out.tfevents.absurd"
        var header = withUnsafeBytes(of: UInt64(1 << 40).littleEndian, Array.init)
        header += withUnsafeBytes(of: header.withUnsafeBytes { CRC32C.masked($0) }.littleEndian, Array.init)
        try Data(header + TFRecord.frame([0x10, 0x09])).write(to: URL(fileURLWithPath: path))
        let (events, diagnostics) = readEntries(path)
        #expect(diagnostics.map(\.problem) == [.badRecord])
        #expect(events.map(\.step) == [9])
    }

    @Test func zeroLengthFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/events.out.tfevents.0.empty"
        _ = FileManager.default.createFile(atPath: path, contents: Data())
        let (events, diagnostics) = readEntries(path)
        #expect(events.isEmpty)
        #expect(diagnostics.isEmpty)
    }

    @Test(arguments: [1, 11, 12, 100, 65_536])
    func randomBytesNamedLikeAnEventFile(size: Int) throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/events.out.tfevents.123.host.1.0"
        var random = TestRandom(seed: UInt64(size))
        let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &random) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let (events, diagnostics) = readEntries(path)
        #expect(events.isEmpty)
        #expect(diagnostics.count == 1)
        #expect(diagnostics.allSatisfy { $0.file == path && $0.offset == 0 })
    }

    @Test func missingFileIsUnreadable() {
        let (events, diagnostics) = readEntries("/nonexistent/events.out.tfevents.1")
        #expect(events.isEmpty)
        #expect(diagnostics.map(\.problem) == [.unreadable])
    }

    /// A file read while another thread appends never yields a wrong record.
    @Test func readingWhileAWriterAppends() async throws {
        let directory = try TemporaryDirectory()
        var options = SummaryWriter.Options()
        options.flushBytes = 64  // flush almost every record
        options.flushInterval = nil
        let writer = try SummaryWriter(logdir: directory.path, options: options)
        let producer = Task.detached {
            for step in 0..<3000 { try writer.scalar("live", Double(step) * 0.5, step: step) }
            try writer.close()
        }
        let reader = EventFileReader(path: writer.path)
        var seen: [Int64] = []
        var finished = false
        while !finished {
            finished = writer.pendingBytes == 0 && (try? writer.flush()) == nil
            while let entry = reader.next() {
                switch entry {
                case .event(let event, _):
                    for value in event.summaryValues {
                        guard case .scalar(let number) = value.value else { continue }
                        #expect(number == Double(event.step) * 0.5)
                        seen.append(event.step)
                    }
                case .diagnostic(let diagnostic):
                    #expect(diagnostic.problem == .truncated, "\(diagnostic)")
                }
            }
            try await Task.sleep(for: .milliseconds(1))
        }
        try await producer.value
        while let entry = reader.next() {
            if case .event(let event, _) = entry, !event.summaryValues.isEmpty { seen.append(event.step) }
        }
        #expect(seen == (0..<3000).map(Int64.init))
    }
}

extension EventFileEntry: Equatable {
    public static func == (lhs: EventFileEntry, rhs: EventFileEntry) -> Bool {
        switch (lhs, rhs) {
        case (.diagnostic(let a), .diagnostic(let b)): a == b
        case (.event(_, let a), .event(_, let b)): a == b
        default: false
        }
    }
}

/// The reader loads its window from the 64-byte boundary at or before a record (so the kernel's
/// copy is never misaligned against the page cache): records at every offset modulo 64, read
/// through windows of many sizes, come back exactly as they do from memory.
@Suite struct ReaderWindowTests {
    @Test func recordsAtEveryAlignmentReadThroughAnyWindow() throws {
        let directory = try TemporaryDirectory()
        let writer = try SummaryWriter(logdir: directory.path)
        var random = TestRandom(seed: 64)
        for step in 0..<1000 {
            // Tags of 1-80 bytes put records at every offset modulo 64.
            let tag = String(repeating: "t", count: Int.random(in: 1...80, using: &random))
            if step % 7 == 0 {
                try writer.histogram(tag, values: (0...(step % 50)).map { Float($0) - 3 }, step: step)
            } else {
                try writer.scalar(tag, Double(step), step: step, wallTime: 1000)
            }
        }
        try writer.close()
        let bytes = try fileBytes(writer.path)
        let expected = describedEntries(EventFileReader(bytes: bytes))
        let residues = Set(EventFileReader(bytes: bytes).readAll().compactMap { entry -> Int? in
            if case .event(_, let offset) = entry { return offset % 64 }
            return nil
        })
        #expect(residues.count == 64)
        #expect(expected.count == 1001)
        #expect(!expected.contains { $0.hasPrefix("diagnostic") })
        for size in [64, 65, 100, 1000, 4099, 1 << 20] {
            #expect(describedEntries(EventFileReader(path: writer.path, bufferSize: size)) == expected, "a \(size)-byte window")
            // Every load starts at a 64-byte boundary of the file, into a 64-byte-aligned window.
            let reader = EventFileReader(path: writer.path, bufferSize: size)
            var placements = Set<Int>()
            while reader.next() != nil {
                let (fileOffset, address) = reader.windowPlacement
                #expect(fileOffset % 64 == 0 && address % 64 == 0, "a \(size)-byte window at file offset \(fileOffset), address \(address)")
                placements.insert(fileOffset)
            }
            #expect(placements.count > (size < 4096 ? 100 : 0))
        }
    }
}
