import Foundation
import Testing

import GradAlertTestSupport
@testable import TensorBoardEvents

/// `EventFileReader.next()` reuses the arrays of events the caller has let go, and shares repeated
/// tags (`DecodeStorage`). Whatever the caller keeps must never change, and every value must read
/// exactly as written, however the caller holds on to what it is given.
@Suite struct DecodeStorageTests {
    /// What one histogram value in the file holds.
    struct Written: Equatable {
        var tag: String
        var limits: [Double]
        var counts: [Double]
    }

    /// Events of one to three legacy histograms each, with packed bucket arrays of the given sizes
    /// (cycled), tags from `tags` (cycled); every seventh event is a scalar event between them.
    static func file(events: Int, sizes: [Int], tags: [[UInt8]], seed: UInt64) -> (bytes: [UInt8], written: [[Written]]) {
        var random = TestRandom(seed: seed)
        var bytes: [UInt8] = []
        var written: [[Written]] = []
        var tagIndex = 0
        var sizeIndex = 0
        for step in 0..<events {
            var summary = ProtoBytes()
            var values: [Written] = []
            if step % 7 == 6 {
                var value = ProtoBytes()
                value.bytes(field: 1, Array("loss".utf8))
                value.key(2, 5)
                withUnsafeBytes(of: Float(step).bitPattern.littleEndian) { value.bytes += $0 }
                summary.bytes(field: 1, value.bytes)
            } else {
                for _ in 0..<(1 + step % 3) {
                    let tag = tags[tagIndex % tags.count]
                    tagIndex += 1
                    let size = sizes[sizeIndex % sizes.count]
                    sizeIndex += 1
                    let limits = (0..<size).map { Double($0) + Double(random.next() % 1000) / 1000 }
                    let counts = (0..<size).map { _ in Double(random.next() % 50) }
                    // An odd-length field before the arrays shifts their alignment from one to the next.
                    let padding = random.next() % 2 == 0 ? random.next() % 300 : nil
                    summary.bytes(field: 1, histogramValue(tag: tag, limits: limits, counts: counts, padding: padding))
                    values.append(Written(tag: String(decoding: tag, as: UTF8.self), limits: limits, counts: counts))
                }
            }
            var event = ProtoBytes()
            event.varint(field: 2, UInt64(step))
            event.bytes(field: 5, summary.bytes)
            bytes += TFRecord.frame(event.bytes)
            written.append(values)
        }
        return (bytes, written)
    }

    /// A `Summary.Value` holding a legacy histogram with packed bucket arrays; `padding`, if given,
    /// is an unknown varint field written before them.
    static func histogramValue(tag: [UInt8], limits: [Double], counts: [Double], padding: UInt64? = nil) -> [UInt8] {
        var histogram = ProtoBytes()
        histogram.double(field: 3, counts.reduce(0, +))
        if let padding { histogram.varint(field: 15, padding) }
        histogram.bytes(field: 6, limits.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
        histogram.bytes(field: 7, counts.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
        var value = ProtoBytes()
        value.bytes(field: 1, tag)
        value.bytes(field: 5, histogram.bytes)
        return value.bytes
    }

    static func histograms(_ event: Event) -> [Written] {
        event.summaryValues.compactMap { value in
            guard case .histogram(let histogram) = value.value else { return nil }
            return Written(tag: value.tag, limits: histogram.bucketLimits, counts: histogram.bucketCounts)
        }
    }

    static let someTags = (0..<40).map { Array("grad/layer\($0).weight".utf8) }

    /// A caller that keeps some events whole, keeps only the bucket arrays of others, and lets the
    /// rest go: everything kept still holds what was written, after every later event was read.
    @Test func whatTheCallerKeepsNeverChanges() throws {
        let (bytes, written) = Self.file(events: 600, sizes: [130, 120, 131, 90, 129, 4, 128, 300, 127], tags: Self.someTags, seed: 1)
        let reader = EventFileReader(bytes: bytes)
        var keptEvents: [(step: Int, event: Event)] = []
        var keptArrays: [(step: Int, limits: [Double], counts: [Double])] = []
        var step = 0
        while let entry = reader.next() {
            guard case .event(let event, _) = entry else {
                Issue.record("unexpected \(entry)")
                continue
            }
            let read = Self.histograms(event)
            #expect(read == written[step], "step \(step) as it is read")
            // Not `step % 3`, which sets the number of histograms: kept events have one to three.
            switch step % 4 {
            case 0: keptEvents.append((step, event))
            case 1: if let first = read.first { keptArrays.append((step, first.limits, first.counts)) }
            default: break
            }
            step += 1
        }
        #expect(step == written.count)
        for (step, event) in keptEvents {
            #expect(Self.histograms(event) == written[step], "kept event \(step)")
            for histogram in Self.histograms(event) {
                #expect(histogram.limits.capacity <= histogram.limits.count + histogram.limits.count / 4 + 8)
            }
        }
        for (step, limits, counts) in keptArrays {
            #expect(limits == written[step][0].limits, "kept bucket edges of step \(step)")
            #expect(counts == written[step][0].counts, "kept bucket counts of step \(step)")
        }
        #expect(Set(keptEvents.map { Self.histograms($0.event).count }) == [0, 1, 2, 3])
        // Half of the events were let go whole, so there was something to reuse throughout.
        #expect(reader.reusesArrays)
    }

    /// A caller that lets every event go gets the same buffers back: the reuse is real, and an event
    /// with several histograms does not count as a caller keeping things.
    @Test func aCallerThatLetsGoGetsTheSameBuffersBack() throws {
        let (bytes, written) = Self.file(events: 300, sizes: [128, 126, 127], tags: Self.someTags, seed: 2)
        let reader = EventFileReader(bytes: bytes)
        var firstAddresses: Set<UnsafePointer<Double>> = []
        // Arrays of the bucket arrays' size, made after each event is let go: any bucket array the
        // reader freed would be handed to these, so a reader that does not reuse cannot come back
        // to the same two addresses by the allocator's chance.
        var blockers: [[Double]] = []
        var histograms = 0
        var step = 0
        while let entry = reader.next() {
            if case .event(let event, _) = entry {
                #expect(Self.histograms(event) == written[step])
                if case .histogram(let first) = event.summaryValues.first?.value {
                    firstAddresses.insert(first.bucketLimits.withUnsafeBufferPointer { $0.baseAddress! })
                    firstAddresses.insert(first.bucketCounts.withUnsafeBufferPointer { $0.baseAddress! })
                }
                histograms += Self.histograms(event).count
                step += 1
            }
            for _ in 0..<3 { blockers.append(Array(repeating: 1, count: 127)) }
        }
        #expect(histograms > 500)
        #expect(blockers.count == 3 * 300)
        // Two buffers, edges and counts, for the first histogram of every event.
        #expect(firstAddresses.count == 2)
        #expect(reader.reusesArrays)
    }

    /// `readAll()` keeps every event: the reader notices and stops reusing, and every array holds
    /// what was written, with little spare room.
    @Test func aCallerThatKeepsEverythingStopsReuse() throws {
        let (bytes, written) = Self.file(events: 200, sizes: [300, 10, 260, 250, 20, 240], tags: Self.someTags, seed: 3)
        let reader = EventFileReader(bytes: bytes)
        let events = reader.readAll().compactMap { entry -> Event? in
            if case .event(let event, _) = entry { return event }
            return nil
        }
        #expect(events.map(Self.histograms) == written)
        #expect(!reader.reusesArrays)
        for event in events {
            for value in event.summaryValues {
                guard case .histogram(let histogram) = value.value else { continue }
                #expect(histogram.bucketLimits.capacity <= histogram.bucketLimits.count + histogram.bucketLimits.count / 4 + 8)
                #expect(histogram.bucketCounts.capacity <= histogram.bucketCounts.count + histogram.bucketCounts.count / 4 + 8)
            }
        }
    }

    /// Tags that share their length and differ only in the middle, or only in their last bytes,
    /// more tags than the cache has slots, 676 two-byte tags and 26 one-byte ones (so short tags,
    /// of one length or of two, share slots too), long tags, non-ASCII tags and a tag that is not
    /// valid UTF-8: each reads as exactly its own string.
    @Test func everyTagReadsAsItself() throws {
        var tags = (0..<600).map { Array("grad/layer\(String(format: "%04d", $0)).weight/gradient".utf8) }
        tags += [Array("градиент/слой-1.вес".utf8), Array(repeating: UInt8(ascii: "x"), count: 200), Array("a".utf8), []]
        tags.append(Array("grad/broken-".utf8) + [0xC3] + Array(".weight/gradient".utf8))
        let letters = UInt8(ascii: "a")...UInt8(ascii: "z")
        tags += letters.flatMap { first in letters.map { [first, $0] } } + letters.map { [$0] }
        // Same length, differing only in the last one or two bytes (8 and 18 bytes long).
        tags += letters.map { Array("grad/no".utf8) + [$0] } + (0..<100).map { Array("grad/norm/layer-\(String(format: "%02d", $0))".utf8) }
        let (bytes, written) = Self.file(events: 2400, sizes: [3], tags: tags, seed: 4)
        let reader = EventFileReader(bytes: bytes)
        var step = 0
        var checked = 0
        while let entry = reader.next() {
            guard case .event(let event, _) = entry else { continue }
            // Compared as bytes: String's == would accept a different but canonically equivalent tag.
            #expect(event.summaryValues.filter { $0.kind == "histogram" }.map { Array($0.tag.utf8) } == written[step].map { Array($0.tag.utf8) })
            checked += written[step].count
            step += 1
        }
        #expect(checked > 2 * tags.count)
        // (The file holds the broken tag, repaired as String(decoding:) repairs it.)
        #expect(written.joined().contains { $0.tag == "grad/broken-\u{FFFD}.weight/gradient" })
    }

    /// Tags that differ only in the middle, as layer names do, are each found in the cache: the
    /// second time a tag is read it is the very string made the first time.
    @Test func repeatedTagsComeFromTheCache() throws {
        let tags = (0..<40).map { Array("grad/model.layers.\($0).mlp.down_proj.weight".utf8) }
        let (bytes, _) = Self.file(events: 80, sizes: [2], tags: tags, seed: 5)
        let reader = EventFileReader(bytes: bytes)
        var storageOf: [String: UnsafePointer<UInt8>] = [:]
        var found = 0
        var seenTwice = 0
        while let entry = reader.next() {
            guard case .event(let event, _) = entry else { continue }
            for value in event.summaryValues where value.kind == "histogram" {
                var tag = value.tag
                let address = tag.withUTF8 { $0.baseAddress! }
                if let first = storageOf[value.tag] {
                    seenTwice += 1
                    if first == address { found += 1 }
                } else {
                    storageOf[value.tag] = address
                }
            }
        }
        #expect(storageOf.count == 40)
        #expect(seenTwice > 40)
        // 40 tags in 256 slots: a few may share a slot and push each other out, not many.
        #expect(found * 10 >= seenTwice * 7, "\(found) of \(seenTwice) repeated tags came from the cache")
    }

    /// What the reader holds between events stays small: an event with anything but scalars and
    /// one histogram is not held on to.
    @Test func onlySmallEventsAreHeldBetweenEvents() throws {
        func event(_ values: [[UInt8]]) -> [UInt8] {
            var summary = ProtoBytes()
            for value in values { summary.bytes(field: 1, value) }
            var event = ProtoBytes()
            event.varint(field: 2, 1)
            event.bytes(field: 5, summary.bytes)
            return TFRecord.frame(event.bytes)
        }
        func scalar(_ tag: String) -> [UInt8] {
            var value = ProtoBytes()
            value.bytes(field: 1, Array(tag.utf8))
            value.key(2, 5)
            value.bytes += [0, 0, 0x80, 0x3F]
            return value.bytes
        }
        func histogram(_ tag: String) -> [UInt8] {
            var histogram = ProtoBytes()
            histogram.bytes(field: 6, [Double](repeating: 1, count: 4).flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
            histogram.bytes(field: 7, [Double](repeating: 2, count: 4).flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
            var value = ProtoBytes()
            value.bytes(field: 1, Array(tag.utf8))
            value.bytes(field: 5, histogram.bytes)
            return value.bytes
        }
        func text(_ tag: String) -> [UInt8] {
            // A TF2 text summary: a DT_STRING tensor under the "text" plugin.
            var tensor = ProtoBytes()
            tensor.varint(field: 1, 7)
            tensor.bytes(field: 8, Array(String(repeating: "x", count: 4096).utf8))
            var plugin = ProtoBytes()
            plugin.bytes(field: 1, Array("text".utf8))
            var metadata = ProtoBytes()
            metadata.bytes(field: 1, plugin.bytes)
            var value = ProtoBytes()
            value.bytes(field: 1, Array(tag.utf8))
            value.bytes(field: 9, metadata.bytes)
            value.bytes(field: 8, tensor.bytes)
            return value.bytes
        }
        let cases: [(values: [[UInt8]], held: Int)] = [
            ([scalar("a"), scalar("b")], 2),
            ([scalar("a"), histogram("h")], 2),
            ([histogram("h"), histogram("i")], 0),
            ([scalar("a"), text("notes")], 0),
            ([histogram("h")], 1),
            ([], 0),
        ]
        let reader = EventFileReader(bytes: cases.flatMap { event($0.values) })
        for (index, expected) in cases.enumerated() {
            guard case .event(let read, _) = reader.next() else {
                Issue.record("case \(index) did not read as an event")
                continue
            }
            #expect(read.summaryValues.count == expected.values.count, "case \(index)")
            #expect(reader.heldValueCount == expected.held, "case \(index)")
        }
    }

    /// An event whose second histogram claims more bucket bytes than it holds is reported, and
    /// everything around it reads as written: the storage the failed decode had taken (the value
    /// array, the spare bucket arrays) is not left half-used.
    @Test func anEventThatFailsMidwayLeavesTheReaderSound() throws {
        let (before, writtenBefore) = Self.file(events: 6, sizes: [130, 125], tags: Self.someTags, seed: 6)
        let (after, writtenAfter) = Self.file(events: 6, sizes: [125, 131], tags: Self.someTags, seed: 9)
        var broken = ProtoBytes()
        broken.key(6, 2)
        broken.varint(800)
        broken.bytes += [UInt8](repeating: 0, count: 16)
        var second = ProtoBytes()
        second.bytes(field: 1, Array("grad/broken".utf8))
        second.bytes(field: 5, broken.bytes)
        var summary = ProtoBytes()
        summary.bytes(field: 1, Self.histogramValue(tag: Array("grad/sound".utf8), limits: (0..<128).map(Double.init), counts: Array(repeating: 3, count: 128)))
        summary.bytes(field: 1, second.bytes)
        var event = ProtoBytes()
        event.varint(field: 2, 99)
        event.bytes(field: 5, summary.bytes)
        let reader = EventFileReader(bytes: before + TFRecord.frame(event.bytes) + after)
        let written = writtenBefore + writtenAfter
        var read: [[Written]] = []
        var kept: [(index: Int, event: Event)] = []
        var problems: [RecordDiagnostic.Problem] = []
        while let entry = reader.next() {
            switch entry {
            case .diagnostic(let diagnostic): problems.append(diagnostic.problem)
            case .event(let event, _):
                if read.count % 2 == 0 { kept.append((read.count, event)) }
                read.append(Self.histograms(event))
            }
        }
        #expect(problems == [.badRecord])
        #expect(read == written)
        for (index, event) in kept { #expect(Self.histograms(event) == written[index], "kept event \(index)") }
    }

    /// An offset near Int.max (`skip(to:)` past the end) ends reading, for a file, bytes in memory and
    /// a gzip file alike; nothing overflows.
    @Test func skippingPastEverythingEndsReading() throws {
        let (bytes, _) = Self.file(events: 3, sizes: [5], tags: Self.someTags, seed: 7)
        let directory = try TemporaryDirectory()
        let path = directory.path + "/events.out.tfevents.1.host"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let readers = [EventFileReader(path: path), EventFileReader(bytes: bytes), EventFileReader(bytes: gzipped([bytes]))]
        for (index, reader) in readers.enumerated() {
            for offset in [Int.max, Int.max - 5, Int.max - 12] {
                reader.skip(to: offset)
                #expect(reader.next() == nil, "reader \(index), offset \(offset)")
            }
        }
    }

    /// Empty summaries between kept events do not hide that the caller keeps its events.
    @Test func emptySummariesDoNotHideACallerThatKeeps() throws {
        var bytes: [UInt8] = []
        let (histograms, _) = Self.file(events: 40, sizes: [20], tags: Self.someTags, seed: 8)
        var rest = histograms[...]
        while !rest.isEmpty {
            let length = Int(rest.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
            bytes += rest.prefix(length + 16)
            rest = rest.dropFirst(length + 16)
            var empty = ProtoBytes()
            empty.varint(field: 2, 1)
            empty.bytes(field: 5, [])
            bytes += TFRecord.frame(empty.bytes)
        }
        let reader = EventFileReader(bytes: bytes)
        let entries = reader.readAll()
        #expect(entries.count == 80)
        #expect(!reader.reusesArrays)
    }
}
