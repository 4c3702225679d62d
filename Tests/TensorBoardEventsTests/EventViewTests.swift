import Foundation
import GradAlertTestSupport
import Testing

@testable import TensorBoardEvents

/// The in-place path (`withNextEvent` + `EventView`) must see exactly what the decoding path sees:
/// same records, same diagnostics, same values, on real TensorFlow and tensorboardX files and on
/// damaged ones.
@Suite struct EventViewTests {
    static var fixtureFiles: [String] {
        ((try? LogDirectory.runs(in: fixturesDirectory + "/tf2")) ?? []).flatMap(\.files)
            + ((try? LogDirectory.runs(in: fixturesDirectory + "/tensorboardx")) ?? []).flatMap(\.files)
            + ((try? LogDirectory.runs(in: fixturesDirectory + "/training")) ?? []).flatMap(\.files).prefix(4)
    }

    @Test func fixturesAreThere() {
        #expect(Self.fixtureFiles.count >= 6)
    }

    /// Reads a file both ways, record by record, and compares everything.
    static func compareBothPaths(_ reader: () -> EventFileReader) throws -> Int {
        let typed = reader().readAll()
        let inPlace = reader()
        var index = 0
        var valuesCompared = 0
        while let _: Void = inPlace.withNextEvent({ entry in
            defer { index += 1 }
            guard index < typed.count else {
                Issue.record("the in-place path returned more entries than the decoding path")
                return
            }
            switch (entry, typed[index]) {
            case (.diagnostic(let a), .diagnostic(let b)):
                #expect(a == b)
            case (.event(let view, let offset), .event(let event, let typedOffset)):
                #expect(offset == typedOffset)
                #expect(view.wallTime.bitPattern == event.wallTime.bitPattern)
                #expect(view.step == event.step)
                var values = view.values
                var decoded: [SummaryValue] = []
                do {
                    while let value = try values.next() {
                        let full = try value.decode()
                        decoded.append(full)
                        #expect(value.tag == full.tag)
                        #expect(value.pluginName == full.pluginName)
                        switch full.value {
                        case .scalar(let number):
                            #expect(try value.scalar()?.bitPattern == number.bitPattern)
                        case .histogram(let histogram):
                            let moments = try #require(try value.histogramMoments())
                            #expect(moments.min.bitPattern == histogram.min.bitPattern)
                            #expect(moments.max.bitPattern == histogram.max.bitPattern)
                            #expect(moments.count == histogram.count)
                            #expect(moments.sum.bitPattern == histogram.sum.bitPattern)
                            #expect(moments.sumSquares.bitPattern == histogram.sumSquares.bitPattern)
                        default:
                            #expect(try value.scalar() == nil)
                            #expect(try value.histogramMoments() == nil)
                        }
                        valuesCompared += 1
                    }
                } catch {
                    Issue.record("a record the decoding path accepted failed in place: \(error)")
                }
                #expect(decoded.map(\.tag) == event.summaryValues.map(\.tag))
                #expect(decoded.map(\.kind) == event.summaryValues.map(\.kind))
                if case .summary = event.content {} else { #expect(decoded.isEmpty) }
            default:
                Issue.record("entry \(index): the two paths disagree: \(entry) vs \(typed[index])")
            }
        }) {}
        #expect(index == typed.count)
        return valuesCompared
    }

    @Test(arguments: fixtureFiles)
    func inPlaceMatchesDecodedOnRealFiles(file: String) throws {
        let compared = try Self.compareBothPaths { EventFileReader(path: file) }
        #expect(compared > 0)
    }

    /// Summaries with no value, one, and several: every value decoded, in order, with its own
    /// tag (long, non-ASCII, differing only in the last byte, or not valid UTF-8 and repaired).
    @Test func everyValueOfASummaryIsDecodedInOrder() throws {
        let tags = ["loss", "grad_norm/fc1.weighs", "grad_norm/fc1.weight", "градиент/слой-1.вес", "0123456789abcdef"]
        func value(_ tag: [UInt8], _ number: Float) -> [UInt8] {
            var value = ProtoBytes()
            value.bytes(field: 1, tag)
            value.key(2, 5)
            withUnsafeBytes(of: number.bitPattern.littleEndian) { value.bytes += $0 }
            return value.bytes
        }
        let broken = Array("grad_norm/broken-".utf8) + [0x80] + Array("-tag".utf8)
        let groups: [[(tag: [UInt8], number: Float)]] = [
            [],
            [(Array(tags[1].utf8), 1)],
            tags.enumerated().map { (Array($0.element.utf8), Float($0.offset)) },
            [(broken, 7), (Array(tags[0].utf8), 8)],
        ]
        var file: [UInt8] = []
        for (step, group) in groups.enumerated() {
            var summary = ProtoBytes()
            for (tag, number) in group { summary.bytes(field: 1, value(tag, number)) }
            var event = ProtoBytes()
            event.varint(field: 2, UInt64(step))
            event.bytes(field: 5, summary.bytes)
            file += TFRecord.frame(event.bytes)
        }
        let events = EventFileReader(bytes: file).readAll().compactMap { entry -> Event? in
            if case .event(let event, _) = entry { return event }
            return nil
        }
        #expect(events.count == groups.count)
        let read = events.map { $0.summaryValues.map { value -> String in
            guard case .scalar(let number) = value.value else { return "not a scalar" }
            return "\(value.tag)=\(number)"
        } }
        let expected: [[String]] = [
            [],
            ["grad_norm/fc1.weighs=1.0"],
            tags.enumerated().map { "\($0.element)=\(Double($0.offset))" },
            ["grad_norm/broken-\u{FFFD}-tag=7.0", "loss=8.0"],
        ]
        #expect(read == expected)
        _ = try Self.compareBothPaths { EventFileReader(bytes: file) }
    }

    @Test func inPlaceMatchesDecodedOnDamagedFiles() throws {
        let file = try #require(Self.fixtureFiles.first { $0.contains("tensorboardx") })
        let original = try #require(FileManager.default.contents(atPath: file).map { [UInt8]($0) })
        var random = TestRandom(seed: 7)
        for trial in 0..<40 {
            var bytes = original
            // Flip a few bytes, cut the tail, or both.
            for _ in 0..<(1 + trial % 4) {
                let at = Int(random.next() % UInt64(bytes.count))
                bytes[at] ^= UInt8(truncatingIfNeeded: random.next() | 1)
            }
            if trial % 3 == 0 { bytes.removeLast(Int(random.next() % UInt64(bytes.count / 2))) }
            _ = try Self.compareBothPaths { EventFileReader(bytes: bytes, name: "damaged-\(trial)") }
        }
    }

    /// A record whose CRCs are right but whose summary value is cut short: the top level reads,
    /// the value throws, and `malformed` names the file and offset.
    @Test func malformedValueThrowsWhenVisited() throws {
        // Event { step: 1, summary { value { tag: "loss", <simple_value cut to 2 bytes> } } }
        let value: [UInt8] = [0x0A, 0x04] + Array("loss".utf8) + [0x15, 0x00, 0x00]
        let summary: [UInt8] = [0x0A, UInt8(value.count)] + value
        let event: [UInt8] = [0x10, 0x01, 0x2A, UInt8(summary.count)] + summary
        let reader = EventFileReader(bytes: TFRecord.frame(event), name: "cut")
        let outcome: String? = reader.withNextEvent { entry in
            guard case .event(let view, let offset) = entry else { return "no event" }
            var values = view.values
            do throws(WireError) {
                _ = try values.next()
                return "no error"
            } catch {
                return reader.malformed(at: offset, length: view.byteCount, error).description
            }
        }
        #expect(outcome == "cut: offset 0: bad_record: a \(event.count)-byte record with valid CRCs is not a valid Event (a field runs past its end); skipped")
        // The decoding path rejects the same record as a whole.
        let typed = EventFileReader(bytes: TFRecord.frame(event), name: "cut").readAll()
        guard case .diagnostic(let diagnostic) = typed.first else {
            Issue.record("the decoding path accepted a malformed record")
            return
        }
        #expect(diagnostic.problem == .badRecord)
    }
}
