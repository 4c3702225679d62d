import Foundation
import Testing

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
                    var histogram = ProtoBytes()
                    histogram.double(field: 3, counts.reduce(0, +))
                    // An odd-length field before the arrays shifts their alignment from one to the next.
                    if random.next() % 2 == 0 { histogram.varint(field: 15, random.next() % 300) }
                    histogram.bytes(field: 6, limits.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
                    histogram.bytes(field: 7, counts.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
                    var value = ProtoBytes()
                    value.bytes(field: 1, tag)
                    value.bytes(field: 5, histogram.bytes)
                    summary.bytes(field: 1, value.bytes)
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
            switch step % 3 {
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
        // A third of the events were let go whole, so there was something to reuse throughout.
        #expect(reader.reusesArrays)
    }

    /// A caller that lets every event go gets the same buffers back: the reuse is real, and an event
    /// with several histograms does not count as a caller keeping things.
    @Test func aCallerThatLetsGoGetsTheSameBuffersBack() throws {
        let (bytes, written) = Self.file(events: 300, sizes: [128, 126, 127], tags: Self.someTags, seed: 2)
        let reader = EventFileReader(bytes: bytes)
        var firstAddresses: Set<UnsafePointer<Double>> = []
        var histograms = 0
        var step = 0
        while let entry = reader.next() {
            guard case .event(let event, _) = entry else { continue }
            #expect(Self.histograms(event) == written[step])
            if case .histogram(let first) = event.summaryValues.first?.value {
                firstAddresses.insert(first.bucketLimits.withUnsafeBufferPointer { $0.baseAddress! })
                firstAddresses.insert(first.bucketCounts.withUnsafeBufferPointer { $0.baseAddress! })
            }
            histograms += Self.histograms(event).count
            step += 1
        }
        #expect(histograms > 500)
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

    /// Tags that share their length and their first and last 8 bytes (the cache's hash sees only
    /// those), more tags than the cache has slots, long tags, non-ASCII tags and a tag that is not
    /// valid UTF-8: each reads as exactly its own string.
    @Test func everyTagReadsAsItself() throws {
        var tags = (0..<600).map { Array("grad/layer\(String(format: "%04d", $0)).weight/gradient".utf8) }
        tags += [Array("градиент/слой-1.вес".utf8), Array(repeating: UInt8(ascii: "x"), count: 200), Array("a".utf8), []]
        tags.append(Array("grad/broken-".utf8) + [0xC3] + Array(".weight/gradient".utf8))
        let (bytes, written) = Self.file(events: 1200, sizes: [3], tags: tags, seed: 4)
        let reader = EventFileReader(bytes: bytes)
        var step = 0
        var checked = 0
        while let entry = reader.next() {
            guard case .event(let event, _) = entry else { continue }
            #expect(event.summaryValues.filter { $0.kind == "histogram" }.map(\.tag) == written[step].map(\.tag))
            checked += written[step].count
            step += 1
        }
        #expect(checked > 2 * tags.count)
        #expect(written.joined().contains { $0.tag == "grad/broken-\u{FFFD}.weight/gradient" })
    }
}
