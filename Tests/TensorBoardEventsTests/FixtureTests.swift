import Foundation
import GradAlertTestSupport
import Testing

@testable import TensorBoardEvents

/// Real event files written by TensorFlow 2 and tensorboardX (Tools/fixtures/generate.sh), read
/// by our reader and compared, record by record, with what the generator read out of them with
/// TensorBoard's own protobufs (Tests/Fixtures/expected.json).
@Suite struct FixtureTests {
    nonisolated(unsafe) static let expected: [String: Any] = {
        let url = URL(fileURLWithPath: fixturesDirectory + "/expected.json")
        guard let data = try? Data(contentsOf: url),
            let object = try? ExactJSON.parse([UInt8](data)) as? [String: Any]
        else { return [:] }
        return object
    }()

    static var files: [String] {
        ((expected["files"] as? [String: Any]) ?? [:]).keys.sorted()
    }

    @Test func fixturesArePresent() {
        #expect(Self.files.count >= 12)
        #expect(Self.files.contains { $0.hasPrefix("tf2/") })
        #expect(Self.files.contains { $0.hasPrefix("tensorboardx/") })
    }

    @Test(arguments: files)
    func readerMatchesTensorBoard(file: String) throws {
        let spec = try #require((Self.expected["files"] as? [String: Any])?[file] as? [String: Any])
        let records = try #require(spec["records"] as? [[String: Any]])
        let entries = EventFileReader(path: fixturesDirectory + "/" + file).readAll()
        var events: [(Event, Int)] = []
        for entry in entries {
            switch entry {
            case .event(let event, let offset): events.append((event, offset))
            case .diagnostic(let diagnostic): Issue.record("unexpected diagnostic: \(diagnostic)")
            }
        }
        #expect(events.count == records.count)
        #expect(events.count == spec["record_count"] as? Int)
        for (index, (event, offset)) in events.enumerated() where index < records.count {
            let record = records[index]
            let context = "\(file) record \(index)"
            #expect(offset == record["offset"] as? Int, "\(context)")
            #expect(event.step == Int64(record["step"] as? Int ?? -1), "\(context)")
            #expect(event.wallTime == number(record["wall_time"]), "\(context)")
            switch (record["what"] as? String, event.content) {
            case ("file_version", .fileVersion(let version)):
                #expect(version == record["file_version"] as? String)
            case ("session_log", .sessionLog(let log)):
                #expect(log.status.rawValue == (record["session_log"] as? [String: Any])?["status"] as? Int)
            case ("graph_def", .graph(let count)):
                #expect(count == (record["graph_def"] as? [String: Any])?["length"] as? Int)
            case ("summary", .summary(let values)):
                let expectedValues = try #require(record["values"] as? [[String: Any]])
                #expect(values.count == expectedValues.count)
                for (value, spec) in zip(values, expectedValues) {
                    try check(value, against: spec, context: context)
                }
            default:
                Issue.record("\(context): expected \(record["what"] ?? "?"), read \(event.content)")
            }
        }
    }

    private func check(_ value: SummaryValue, against spec: [String: Any], context: String) throws {
        let context = "\(context) tag \(value.tag)"
        #expect(value.tag == spec["tag"] as? String, "\(context)")
        #expect(value.pluginName == spec["plugin_name"] as? String, "\(context)")
        switch spec["kind"] as? String {
        case "simple_value":
            guard case .scalar(let number) = value.value else { Issue.record("\(context): not a scalar"); return }
            #expect(same(number, self.number(spec["simple_value"])), "\(context)")
        case "histo":
            let histo = try #require(spec["histo"] as? [String: Any])
            guard case .histogram(let h) = value.value else { Issue.record("\(context): not a histogram"); return }
            #expect(h.min == number(histo["min"]) && h.max == number(histo["max"]), "\(context)")
            #expect(h.count == number(histo["num"]) && h.sum == number(histo["sum"]), "\(context)")
            #expect(h.sumSquares == number(histo["sum_squares"]), "\(context)")
            #expect(h.bucketLimits == numbers(histo["bucket_limit"]), "\(context)")
            #expect(h.bucketCounts == numbers(histo["bucket"]), "\(context)")
        case "image":
            let image = try #require(spec["image"] as? [String: Any])
            guard case .image(let decoded) = value.value else { Issue.record("\(context): not an image"); return }
            #expect(decoded.width == image["width"] as? Int && decoded.height == image["height"] as? Int, "\(context)")
            #expect(decoded.colorspace == image["colorspace"] as? Int, "\(context)")
            #expect(decoded.encoded == [bytes(base64: image["encoded_base64"])], "\(context)")
            #expect(decoded.format == "png")
        case "tensor":
            let tensor = try #require(spec["tensor"] as? [String: Any])
            try checkTensor(value, tensor, context: context)
        default:
            Issue.record("\(context): fixture kind \(spec["kind"] ?? "?") not covered")
        }
    }

    private func checkTensor(_ value: SummaryValue, _ tensor: [String: Any], context: String) throws {
        let dtype = tensor["dtype"] as? Int
        let shape = (tensor["shape"] as? [Int]) ?? []
        let values = (tensor["values"] as? [Any]) ?? []
        switch value.value {
        case .scalar(let number):
            #expect(shape.isEmpty && (dtype == 1 || dtype == 2), "\(context)")
            #expect(values.count == 1 && same(number, self.number(values[0])), "\(context)")
        case .bucketHistogram(let h):
            #expect(shape.count == 2 && shape[1] == 3, "\(context)")
            let flat = values.map { self.number($0) }
            #expect(h.counts.count == shape[0], "\(context)")
            for row in 0..<min(h.counts.count, flat.count / 3) {
                #expect(same(h.leftEdges[row], flat[row * 3]) && same(h.rightEdges[row], flat[row * 3 + 1]), "\(context) row \(row)")
                #expect(h.counts[row] == flat[row * 3 + 2], "\(context) row \(row)")
            }
        case .text(let strings):
            #expect(dtype == 7, "\(context)")
            #expect(strings == values.map { $0 as? String ?? "<binary>" }, "\(context)")
        case .image(let image):
            #expect(dtype == 7 && value.pluginName == "images", "\(context)")
            #expect(String(image.width) == values.first as? String, "\(context)")
            #expect(String(image.height) == values.dropFirst().first as? String, "\(context)")
            let blobs = values.dropFirst(2).map { bytes(base64: ($0 as? [String: Any])?["data"]) }
            #expect(image.encoded == Array(blobs), "\(context)")
        case .tensor(let t):
            #expect(t.dtype == dtype && t.shape == shape.map(Int64.init), "\(context)")
        case .histogram, .unknown:
            Issue.record("\(context): a tensor was read as \(value.value)")
        }
    }

    private func number(_ any: Any?) -> Double {
        switch any {
        case let value as Double: value
        case let value as Int: Double(value)
        case let value as NSNumber: value.doubleValue
        case "NaN" as String: .nan
        case "Infinity" as String: .infinity
        case "-Infinity" as String: -.infinity
        default: .signalingNaN
        }
    }

    private func numbers(_ any: Any?) -> [Double] {
        ((any as? [Any]) ?? []).map { number($0) }
    }

    private func same(_ a: Double, _ b: Double) -> Bool {
        (a.isNaN && b.isNaN) || (a == b && a.sign == b.sign)
    }

    private func bytes(base64 any: Any?) -> [UInt8] {
        guard let text = any as? String, let data = Data(base64Encoded: text) else { return [] }
        return [UInt8](data)
    }
}
