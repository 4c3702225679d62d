/// One decoded `tensorflow.Event` record.
public struct Event: Sendable {
    /// Seconds since the Unix epoch.
    public var wallTime: Double
    public var step: Int64
    public var content: Content

    public init(wallTime: Double, step: Int64, content: Content) {
        self.wallTime = wallTime
        self.step = step
        self.content = content
    }

    /// Which member of the Event's `what` oneof was set.
    public enum Content: Sendable {
        /// The first record of a file: "brain.Event:2" for every current writer.
        indirect case fileVersion(String)
        case summary([SummaryValue])
        indirect case sessionLog(SessionLog)
        /// A serialized GraphDef, MetaGraphDef or tagged RunMetadata: kept as a size only.
        case graph(byteCount: Int)
        /// An Event with none of the members this reader knows (or with none at all).
        case other
    }

    /// Decodes a serialized `tensorflow.Event` (the data of one TFRecord).
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> Event {
        try EventDecoder.decode(bytes)
    }

    /// The summary values, or an empty array for other kinds of event.
    public var summaryValues: [SummaryValue] {
        if case .summary(let values) = content { return values }
        return []
    }
}

/// `tensorflow.SessionLog`: a training session's start, stop or checkpoint marker.
public struct SessionLog: Sendable, Equatable {
    public enum Status: Int, Sendable {
        case unspecified = 0
        case start = 1
        case stop = 2
        case checkpoint = 3
    }

    public var status: Status
    public var checkpointPath: String
    public var message: String

    public init(status: Status, checkpointPath: String = "", message: String = "") {
        self.status = status
        self.checkpointPath = checkpointPath
        self.message = message
    }
}

/// One `Summary.Value`: a tag and what was recorded under it.
public struct SummaryValue: Sendable {
    public var tag: String
    /// `metadata.plugin_data.plugin_name`, or "" when the value carries no metadata.
    public var pluginName: String
    public var value: Value

    public init(tag: String, pluginName: String = "", value: Value) {
        self.tag = tag
        self.pluginName = pluginName
        self.value = value
    }

    public enum Value: Sendable {
        /// A scalar: legacy `simple_value` (a float) or a TF2 rank-0 tensor of DT_FLOAT or DT_DOUBLE.
        case scalar(Double)
        /// A legacy `HistogramProto`.
        case histogram(HistogramSummary)
        /// A TF2 histogram: a [k, 3] tensor of left edge, right edge, count.
        case bucketHistogram(BucketHistogram)
        /// Text (plugin "text"): the elements of the string tensor.
        case text([String])
        /// An image: legacy `Summary.Image`, or a TF2 "images" string tensor [width, height, images...].
        case image(ImageSummary)
        /// Any other tensor.
        case tensor(TensorSummary)
        /// A value with none of the members this reader knows (audio, the obsolete histogram, none).
        case unknown
    }

    /// A short name for the kind of value: "scalar", "histogram", "text", "image", "tensor", "unknown".
    public var kind: String {
        switch value {
        case .scalar: "scalar"
        case .histogram, .bucketHistogram: "histogram"
        case .text: "text"
        case .image: "image"
        case .tensor: "tensor"
        case .unknown: "unknown"
        }
    }
}

/// A TF2 histogram, bucket by bucket. TF2 writes no sum of squares, so the norm of the values can
/// only be estimated from bucket centres (`estimatedSumSquares`).
public struct BucketHistogram: Sendable, Equatable {
    public var leftEdges: [Double]
    public var rightEdges: [Double]
    public var counts: [Double]

    public init(leftEdges: [Double], rightEdges: [Double], counts: [Double]) {
        self.leftEdges = leftEdges
        self.rightEdges = rightEdges
        self.counts = counts
    }

    public var count: Double { counts.reduce(0, +) }
    /// The smallest left edge of a non-empty bucket (TF2 sets the outer edges to the data's min/max).
    public var min: Double? { counts.firstIndex(where: { $0 > 0 }).map { leftEdges[$0] } }
    public var max: Double? { counts.lastIndex(where: { $0 > 0 }).map { rightEdges[$0] } }

    /// Σ count · centre², an estimate of the sum of squares.
    public var estimatedSumSquares: Double {
        var total = 0.0
        for index in counts.indices {
            let centre = (leftEdges[index] + rightEdges[index]) / 2
            total += counts[index] * centre * centre
        }
        return total
    }
}

/// An image summary: size, format and the encoded bytes of each image.
public struct ImageSummary: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// Channels (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA), when the writer said; 0 otherwise.
    public var colorspace: Int
    /// "png", "jpeg", "gif", "bmp" or "unknown", from the first image's leading bytes.
    public var format: String
    /// The encoded images (a TF2 summary may hold several per step).
    public var encoded: [[UInt8]]

    public init(width: Int, height: Int, colorspace: Int, encoded: [[UInt8]]) {
        self.width = width
        self.height = height
        self.colorspace = colorspace
        self.encoded = encoded
        self.format = ImageSummary.format(of: encoded.first ?? [])
    }

    static func format(of bytes: [UInt8]) -> String {
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return "png" }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return "jpeg" }
        if bytes.starts(with: [0x47, 0x49, 0x46, 0x38]) { return "gif" }
        if bytes.starts(with: [0x42, 0x4D]) { return "bmp" }
        return "unknown"
    }
}

/// A tensor this reader does not interpret further.
public struct TensorSummary: Sendable, Equatable {
    /// TensorFlow's DataType enum (1 float, 2 double, 3 int32, 7 string, 9 int64, 10 bool, 19 half).
    public var dtype: Int
    public var shape: [Int64]
    /// Numeric elements, where the dtype is numeric and the tensor small enough to keep (≤ 4096).
    public var numbers: [Double]

    public init(dtype: Int, shape: [Int64], numbers: [Double]) {
        self.dtype = dtype
        self.shape = shape
        self.numbers = numbers
    }
}
