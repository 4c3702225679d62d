import Foundation
import TensorBoardEvents

/// Human-readable lines for `inspect`.
enum TextFormat {
    static func record(_ event: Event, offset: Int) -> String {
        let head = "@\(offset) step \(event.step) \(wallTime(event.wallTime))"
        switch event.content {
        case .fileVersion(let version): return "\(head) file_version \(version)\n"
        case .sessionLog(let log):
            return "\(head) session_log \(log.status)\(log.message.isEmpty ? "" : " \(log.message)")\n"
        case .graph(let count): return "\(head) graph (\(count) bytes)\n"
        case .other: return "\(head) other\n"
        case .summary(let values):
            var text = ""
            for value in values {
                text += "\(head) \(value.kind) \(value.tag)"
                if !value.pluginName.isEmpty, value.pluginName != pluginFor(value) { text += " [plugin \(value.pluginName)]" }
                text += " " + describe(value.value) + "\n"
            }
            return text.isEmpty ? "\(head) summary (empty)\n" : text
        }
    }

    private static func pluginFor(_ value: SummaryValue) -> String {
        switch value.value {
        case .scalar: "scalars"
        case .histogram, .bucketHistogram: "histograms"
        case .text: "text"
        case .image: "images"
        default: ""
        }
    }

    static func describe(_ value: SummaryValue.Value) -> String {
        switch value {
        case .scalar(let number):
            // Most scalars are 32-bit floats (simple_value): print them as such (0.1, not 0.10000000149011612).
            if number.isFinite, Double(Float(number)) == number { return "= \(Float(number))" }
            return "= \(number)"
        case .histogram(let h):
            let mean = h.count > 0 ? h.sum / h.count : 0
            return "n=\(h.count) min=\(h.min) max=\(h.max) mean=\(mean) norm=\(h.l2Norm) buckets=\(h.bucketCounts.count)"
        case .bucketHistogram(let h):
            return "n=\(h.count) min=\(h.min.map { "\($0)" } ?? "-") max=\(h.max.map { "\($0)" } ?? "-") buckets=\(h.counts.count) (TF2 form: no exact sum of squares)"
        case .text(let strings):
            let joined = strings.joined(separator: " | ")
            let flat = joined.replacingOccurrences(of: "\n", with: "⏎")
            return flat.count > 80 ? "\"\(flat.prefix(80))…\"" : "\"\(flat)\""
        case .image(let image):
            return "\(image.width)x\(image.height) \(image.format) \(image.encoded.count) image(s), \(image.encoded.map(\.count).reduce(0, +)) bytes"
        case .tensor(let tensor):
            return "dtype \(tensor.dtype) shape \(tensor.shape)"
        case .unknown: return "(no value this reader knows)"
        }
    }

    static func wallTime(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds > 0, seconds < 1e11 else { return "t=\(seconds)" }
        let date = Date(timeIntervalSince1970: seconds)
        return date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}

/// One JSON object per record or diagnostic, for `inspect --format json`.
package enum JSONFormat {
    static func record(_ event: Event, file: String, offset: Int) -> String {
        var json = JSONWriter()
        json.beginObject()
        json.field("file", file)
        json.field("offset", offset)
        json.field("step", event.step)
        json.field("wall_time", event.wallTime)
        switch event.content {
        case .fileVersion(let version):
            json.field("kind", "file_version")
            json.field("file_version", version)
        case .sessionLog(let log):
            json.field("kind", "session_log")
            json.field("status", "\(log.status)")
            json.field("message", log.message)
        case .graph(let count):
            json.field("kind", "graph")
            json.field("bytes", count)
        case .other:
            json.field("kind", "other")
        case .summary(let values):
            json.field("kind", "summary")
            json.key("values")
            json.beginArray()
            for value in values { summaryValue(value, into: &json) }
            json.endArray()
        }
        json.endObject()
        return json.output
    }

    /// A TensorFlow histogram's fields, named as its proto names them.
    package static func histogramFields(_ h: HistogramSummary, into json: inout JSONWriter) {
        json.field("min", h.min)
        json.field("max", h.max)
        json.field("num", h.count)
        json.field("sum", h.sum)
        json.field("sum_squares", h.sumSquares)
        json.field("bucket_limit", numbers: h.bucketLimits)
        json.field("bucket", numbers: h.bucketCounts)
    }

    static func summaryValue(_ value: SummaryValue, into json: inout JSONWriter) {
        json.beginObject()
        json.field("tag", value.tag)
        json.field("kind", value.kind)
        if !value.pluginName.isEmpty { json.field("plugin", value.pluginName) }
        switch value.value {
        case .scalar(let number): json.field("value", number)
        case .histogram(let h):
            histogramFields(h, into: &json)
        case .bucketHistogram(let h):
            json.field("left_edges", numbers: h.leftEdges)
            json.field("right_edges", numbers: h.rightEdges)
            json.field("counts", numbers: h.counts)
        case .text(let strings):
            json.key("text")
            json.beginArray()
            for string in strings { json.string(string) }
            json.endArray()
        case .image(let image):
            json.field("width", image.width)
            json.field("height", image.height)
            json.field("format", image.format)
            json.field("images", image.encoded.count)
            json.field("bytes", image.encoded.map(\.count).reduce(0, +))
        case .tensor(let tensor):
            json.field("dtype", tensor.dtype)
            json.field("shape", numbers: tensor.shape.map(Double.init))
        case .unknown: break
        }
        json.endObject()
    }

    static func diagnostic(_ diagnostic: RecordDiagnostic) -> String {
        var json = JSONWriter()
        json.beginObject()
        json.key("diagnostic")
        DiagnosticJSON.write(diagnostic, into: &json)
        json.endObject()
        return json.output
    }
}

/// A diagnostic as a JSON object: `{"file", "offset", "problem", "message"}` (scan's
/// `diagnostics[]`, inspect's `{"diagnostic": …}`).
enum DiagnosticJSON {
    static func write(_ diagnostic: RecordDiagnostic, into json: inout JSONWriter) {
        json.beginObject()
        json.field("file", diagnostic.file)
        json.field("offset", diagnostic.offset)
        json.field("problem", diagnostic.problem.rawValue)
        json.field("message", diagnostic.message)
        json.endObject()
    }
}
