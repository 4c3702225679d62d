/// What goes inside one `Summary.Value` besides its tag: the fields of one summary kind.
protocol SummaryPayload {
    /// Encoded size of the fields `write` emits.
    var encodedSize: Int { get }
    func write(to writer: inout ProtoWriter)
}

/// Event layout for writing: `Event { wall_time = 1; step = 2; file_version = 3 | summary = 5 }`,
/// `Summary { repeated Value value = 1 }`, `Value { tag = 1; ... }`. Sizes are computed first so
/// each record is written once, front to back, into its final place.
enum EventEncoding {
    static func headerSize(step: Int64) -> Int {
        FieldSize.fixed64(1) + (step == 0 ? 0 : FieldSize.varint(2, UInt64(bitPattern: step)))
    }

    static func writeHeader(_ writer: inout ProtoWriter, wallTime: Double, step: Int64) {
        writer.doubleField(1, wallTime)
        if step != 0 { writer.int64Field(2, step) }
    }

    static func fileVersionEventSize(_ version: String, wallTime: Double) -> Int {
        headerSize(step: 0) + FieldSize.string(3, version)
    }

    static func writeFileVersionEvent(_ writer: inout ProtoWriter, _ version: String, wallTime: Double) {
        writeHeader(&writer, wallTime: wallTime, step: 0)
        writer.stringField(3, version)
    }

    /// Sizes of the nested Value and Summary messages and of the whole Event.
    struct SummarySizes {
        var value: Int
        var summary: Int
        var event: Int
    }

    static func summarySizes(tag: String, step: Int64, payload: some SummaryPayload) -> SummarySizes {
        let value = FieldSize.string(1, tag) + payload.encodedSize
        let summary = FieldSize.lengthDelimited(1, payload: value)
        let event = headerSize(step: step) + FieldSize.lengthDelimited(5, payload: summary)
        return SummarySizes(value: value, summary: summary, event: event)
    }

    static func writeSummaryEvent(
        _ writer: inout ProtoWriter, sizes: SummarySizes, tag: String, step: Int64, wallTime: Double,
        payload: some SummaryPayload
    ) {
        writeHeader(&writer, wallTime: wallTime, step: step)
        writer.lengthPrefix(5, sizes.summary)
        writer.lengthPrefix(1, sizes.value)
        writer.stringField(1, tag)
        payload.write(to: &writer)
    }
}

/// `simple_value = 2` (float): the scalar form both TensorBoard loaders read.
struct ScalarPayload: SummaryPayload {
    var value: Float
    var encodedSize: Int { FieldSize.fixed32(2) }
    func write(to writer: inout ProtoWriter) { writer.floatField(2, value) }
}

/// `histo = 5`: a legacy `HistogramProto`, which both loaders read (the data server converts it).
struct HistogramPayload: SummaryPayload {
    var histogram: HistogramSummary

    var protoSize: Int {
        var size = 5 * FieldSize.fixed64(1)
        if !histogram.bucketLimits.isEmpty { size += FieldSize.packedDoubles(6, count: histogram.bucketLimits.count) }
        if !histogram.bucketCounts.isEmpty { size += FieldSize.packedDoubles(7, count: histogram.bucketCounts.count) }
        return size
    }

    var encodedSize: Int { FieldSize.lengthDelimited(5, payload: protoSize) }

    func write(to writer: inout ProtoWriter) {
        writer.lengthPrefix(5, protoSize)
        writer.doubleField(1, histogram.min)
        writer.doubleField(2, histogram.max)
        writer.doubleField(3, histogram.count)
        writer.doubleField(4, histogram.sum)
        writer.doubleField(5, histogram.sumSquares)
        if !histogram.bucketLimits.isEmpty { writer.packedDoubles(6, histogram.bucketLimits) }
        if !histogram.bucketCounts.isEmpty { writer.packedDoubles(7, histogram.bucketCounts) }
    }
}

/// Text, as TensorBoard's text plugin stores it: `metadata = 9 { plugin_data { plugin_name: "text" } }`
/// and `tensor = 8 { dtype: DT_STRING, tensor_shape {}, string_val: text }` (a rank-0 string tensor,
/// what `tf.summary.text` writes).
struct TextPayload: SummaryPayload {
    var text: String

    private static let pluginName = "text"
    private static let pluginDataSize = FieldSize.string(1, pluginName)
    private static let metadataSize = FieldSize.lengthDelimited(1, payload: pluginDataSize)

    private var tensorSize: Int {
        FieldSize.varint(1, 7) + FieldSize.lengthDelimited(2, payload: 0) + FieldSize.string(8, text)
    }

    var encodedSize: Int {
        FieldSize.lengthDelimited(9, payload: Self.metadataSize) + FieldSize.lengthDelimited(8, payload: tensorSize)
    }

    func write(to writer: inout ProtoWriter) {
        writer.lengthPrefix(9, Self.metadataSize)
        writer.lengthPrefix(1, Self.pluginDataSize)
        writer.stringField(1, Self.pluginName)
        writer.lengthPrefix(8, tensorSize)
        writer.key(1, .varint)
        writer.varint(7)
        writer.lengthPrefix(2, 0)
        writer.stringField(8, text)
    }
}

/// `image = 4`: a legacy `Summary.Image { height = 1; width = 2; colorspace = 3; encoded_image_string = 4 }`.
struct ImagePayload: SummaryPayload {
    var width: Int
    var height: Int
    var colorspace: Int
    var encoded: [UInt8]

    private var imageSize: Int {
        FieldSize.varint(1, UInt64(height)) + FieldSize.varint(2, UInt64(width))
            + FieldSize.varint(3, UInt64(colorspace)) + FieldSize.lengthDelimited(4, payload: encoded.count)
    }

    var encodedSize: Int { FieldSize.lengthDelimited(4, payload: imageSize) }

    func write(to writer: inout ProtoWriter) {
        writer.lengthPrefix(4, imageSize)
        writer.key(1, .varint)
        writer.varint(UInt64(height))
        writer.key(2, .varint)
        writer.varint(UInt64(width))
        writer.key(3, .varint)
        writer.varint(UInt64(colorspace))
        writer.bytesField(4, encoded)
    }
}
