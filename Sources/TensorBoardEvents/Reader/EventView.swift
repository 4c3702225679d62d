/// An event read in place: the fields of a serialized `tensorflow.Event`, pointing into bytes the
/// reader owns, decoded only as far as they are asked for. Nothing is copied or allocated.
///
/// This is the reader's fast path (what `gradalert scan` and `watch` use): a consumer that needs
/// a scalar, or a histogram's moments, gets them without building `Event`, `SummaryValue` or bucket
/// arrays. `decode()` turns a view into the owned `Event` that `EventFileReader.next()` returns.
///
/// A view is valid only inside the closure it was handed to (`EventFileReader.withNextEvent`) or
/// while the bytes given to `init(bytes:)` live.
public struct EventView {
    public let wallTime: Double
    public let step: Int64
    public let content: Content
    /// The size of the serialized event.
    public let byteCount: Int

    /// What the event holds, still as bytes.
    public enum Content {
        case fileVersion(UnsafeRawBufferPointer)
        case summary(UnsafeRawBufferPointer)
        case sessionLog(UnsafeRawBufferPointer)
        case graph(byteCount: Int)
        case other
    }

    /// Reads the event's top-level fields; nested messages are checked when they are visited.
    public init(bytes: UnsafeRawBufferPointer) throws(WireError) {
        var reader = ProtoReader(bytes)
        var wallTime = 0.0
        var step: Int64 = 0
        var content = Content.other
        while let (number, wireType) = try reader.nextField() {
            switch (number, wireType) {
            case (1, .fixed64): wallTime = try reader.double()
            case (2, .varint): step = Int64(bitPattern: try reader.varint())
            case (3, .lengthDelimited): content = .fileVersion(try reader.lengthDelimited())
            case (4, .lengthDelimited), (8, .lengthDelimited), (9, .lengthDelimited):
                content = .graph(byteCount: try reader.lengthDelimited().count)
            case (5, .lengthDelimited): content = .summary(try reader.lengthDelimited())
            case (7, .lengthDelimited): content = .sessionLog(try reader.lengthDelimited())
            default: try reader.skip(wireType)
            }
        }
        self.wallTime = wallTime
        self.step = step
        self.content = content
        byteCount = bytes.count
    }

    /// The values of a summary event, in order (none for other events), read one at a time:
    /// `var values = view.values; while let value = try values.next() { ... }`. A value whose
    /// framing is damaged throws, after the values before it were returned.
    public var values: SummaryValueIterator {
        if case .summary(let bytes) = content { return SummaryValueIterator(bytes) }
        return SummaryValueIterator(UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// The owned event, with every value decoded.
    public func decode() throws(WireError) -> Event {
        var storage = DecodeStorage(reusing: false)
        return try decode(reusing: &storage)
    }

    /// As `decode()`, with arrays from `storage` where it has them to give.
    func decode(reusing storage: inout DecodeStorage) throws(WireError) -> Event {
        let decoded: Event.Content
        switch content {
        case .fileVersion(let bytes): decoded = .fileVersion(String(decoding: bytes, as: UTF8.self))
        case .graph(let count): decoded = .graph(byteCount: count)
        case .other: decoded = .other
        case .sessionLog(let bytes): decoded = .sessionLog(try SessionLog(decoding: bytes))
        case .summary:
            var iterator = values
            // Taken first: it lets go of the last event's values, and so of their bucket arrays.
            var decodedValues = storage.takeValues()
            if decodedValues.capacity == 0 {
                guard let first = try iterator.next() else {
                    decoded = .summary([])
                    break
                }
                // Most events hold one value: an array literal is one allocation, without growing.
                decodedValues = [try first.decode(reusing: &storage)]
            }
            while let value = try iterator.next() { decodedValues.append(try value.decode(reusing: &storage)) }
            storage.giveBack(values: decodedValues)
            // An empty array handed out would come back empty, unchanged whether or not the caller
            // kept it: the caller gets the shared empty array instead.
            decoded = .summary(decodedValues.isEmpty ? [] : decodedValues)
        }
        return Event(wallTime: wallTime, step: step, content: decoded)
    }
}

/// Walks the values of a summary in place.
public struct SummaryValueIterator {
    private var reader: ProtoReader

    init(_ bytes: UnsafeRawBufferPointer) { reader = ProtoReader(bytes) }

    public mutating func next() throws(WireError) -> SummaryValueView? {
        while let (number, wireType) = try reader.nextField() {
            if number == 1, wireType == .lengthDelimited {
                return try SummaryValueView(bytes: try reader.lengthDelimited())
            }
            try reader.skip(wireType)
        }
        return nil
    }
}

/// One `Summary.Value`, in place.
public struct SummaryValueView {
    /// The tag's UTF-8 bytes (the node name for very old TF 1.x summaries that have no tag).
    public let tagBytes: UnsafeRawBufferPointer
    /// The plugin named in the value's metadata (empty if none), as UTF-8 bytes.
    public let pluginNameBytes: UnsafeRawBufferPointer
    public let payload: Payload

    /// The field that holds the value, still as bytes.
    public enum Payload {
        case none
        /// Legacy `simple_value`.
        case simpleValue(Float)
        /// A legacy `HistogramProto`.
        case histogram(UnsafeRawBufferPointer)
        case image(UnsafeRawBufferPointer)
        /// A `TensorProto` (TF2 summaries: scalars, histograms, text, images).
        case tensor(UnsafeRawBufferPointer)
        /// Audio or an obsolete field.
        case other
    }

    init(bytes: UnsafeRawBufferPointer) throws(WireError) {
        var reader = ProtoReader(bytes)
        var tag = UnsafeRawBufferPointer(start: nil, count: 0)
        var nodeName = tag
        var plugin = tag
        var payload = Payload.none
        while let (number, wireType) = try reader.nextField() {
            switch (number, wireType) {
            case (1, .lengthDelimited): tag = try reader.lengthDelimited()
            case (7, .lengthDelimited): nodeName = try reader.lengthDelimited()
            case (2, .fixed32): payload = .simpleValue(try reader.float())
            case (4, .lengthDelimited): payload = .image(try reader.lengthDelimited())
            case (5, .lengthDelimited): payload = .histogram(try reader.lengthDelimited())
            case (8, .lengthDelimited): payload = .tensor(try reader.lengthDelimited())
            case (3, .lengthDelimited), (6, .lengthDelimited):
                _ = try reader.lengthDelimited()
                payload = .other
            case (9, .lengthDelimited): plugin = try Self.pluginName(in: try reader.lengthDelimited())
            default: try reader.skip(wireType)
            }
        }
        tagBytes = tag.isEmpty ? nodeName : tag
        pluginNameBytes = plugin
        self.payload = payload
    }

    public var tag: String { String(decoding: tagBytes, as: UTF8.self) }
    public var pluginName: String {
        // The names nearly every value carries come from literals, without a UTF-8 check each time.
        if pluginNameBytes.isEmpty { return "" }
        if pluginIs("scalars") { return "scalars" }
        if pluginIs("histograms") { return "histograms" }
        if pluginIs("text") { return "text" }
        if pluginIs("images") { return "images" }
        return String(decoding: pluginNameBytes, as: UTF8.self)
    }

    /// Whether the plugin name is `name` (compared as bytes, without making a string).
    public func pluginIs(_ name: StaticString) -> Bool {
        pluginNameBytes.count == name.utf8CodeUnitCount
            && (name.utf8CodeUnitCount == 0 || memcmpBytes(pluginNameBytes.baseAddress!, name.utf8Start, name.utf8CodeUnitCount))
    }

    /// The value as a number when it is a scalar: a legacy `simple_value`, or a TF2 scalar tensor
    /// (float, double, half or bfloat16, under the "scalars" plugin or none). Nil otherwise.
    public func scalar() throws(WireError) -> Double? {
        switch payload {
        case .simpleValue(let number): return Double(number)
        case .tensor(let bytes):
            guard pluginNameBytes.isEmpty || pluginIs("scalars") else { return nil }
            return try RawTensor(bytes).scalar
        default: return nil
        }
    }

    /// The moments of a legacy histogram (min, max, count, sum, sum of squares) without its
    /// buckets; nil when the value is not a legacy histogram.
    public func histogramMoments() throws(WireError) -> HistogramMoments? {
        guard case .histogram(let bytes) = payload else { return nil }
        return try HistogramMoments(bytes: bytes)
    }

    /// The owned value, fully decoded.
    public func decode() throws(WireError) -> SummaryValue {
        var storage = DecodeStorage(reusing: false)
        return try decode(reusing: &storage)
    }

    /// As `decode()`, with arrays from `storage` where it has them to give.
    func decode(reusing storage: inout DecodeStorage) throws(WireError) -> SummaryValue {
        let plugin = pluginName
        let value: SummaryValue.Value
        switch payload {
        case .none, .other: value = .unknown
        case .simpleValue(let number): value = .scalar(Double(number))
        case .histogram(let bytes): value = .histogram(try HistogramSummary(decoding: bytes, reusing: &storage))
        case .image(let bytes): value = .image(try ImageSummary(decoding: bytes))
        case .tensor(let bytes): value = try RawTensor(bytes).interpret(pluginName: plugin)
        }
        storage.note(value)
        return SummaryValue(tag: storage.tag(tagBytes), pluginName: plugin, value: value)
    }

    private static func pluginName(in metadata: UnsafeRawBufferPointer) throws(WireError) -> UnsafeRawBufferPointer {
        var reader = ProtoReader(metadata)
        var name = UnsafeRawBufferPointer(start: nil, count: 0)
        while let (number, wireType) = try reader.nextField() {
            if number == 1, wireType == .lengthDelimited {
                var plugin = ProtoReader(try reader.lengthDelimited())
                while let (inner, innerType) = try plugin.nextField() {
                    if inner == 1, innerType == .lengthDelimited {
                        name = try plugin.lengthDelimited()
                    } else {
                        try plugin.skip(innerType)
                    }
                }
            } else {
                try reader.skip(wireType)
            }
        }
        return name
    }
}

/// A legacy histogram's moments, read without its bucket arrays.
public struct HistogramMoments: Sendable, Equatable {
    public var min = 0.0
    public var max = 0.0
    public var count = 0.0
    public var sum = 0.0
    public var sumSquares = 0.0

    init() {}

    init(bytes: UnsafeRawBufferPointer) throws(WireError) {
        var reader = ProtoReader(bytes)
        while let (number, wireType) = try reader.nextField() {
            if try !read(number, wireType, from: &reader) { try reader.skip(wireType) }
        }
    }

    /// Reads the field just announced when it is one of `HistogramProto`'s moments (fields 1-5);
    /// false, with nothing read, for any other field.
    @inline(__always)
    mutating func read(_ number: Int, _ wireType: WireType, from reader: inout ProtoReader) throws(WireError) -> Bool {
        guard wireType == .fixed64 else { return false }
        switch number {
        case 1: min = try reader.double()
        case 2: max = try reader.double()
        case 3: count = try reader.double()
        case 4: sum = try reader.double()
        case 5: sumSquares = try reader.double()
        default: return false
        }
        return true
    }

    /// `sqrt(sumSquares)`: the L2 norm of the values.
    public var l2Norm: Double { sumSquares.squareRoot() }
}

@inline(__always)
private func memcmpBytes(_ a: UnsafeRawPointer, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    for index in 0..<count where a.load(fromByteOffset: index, as: UInt8.self) != b[index] { return false }
    return true
}
