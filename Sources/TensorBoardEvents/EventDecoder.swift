/// Decodes a serialized `tensorflow.Event` into `Event`: the in-place `EventView`, then every value
/// decoded from it. Unknown fields are skipped by wire type; every length is checked against the
/// bytes present.
enum EventDecoder {
    static func decode(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> Event {
        try EventView(bytes: bytes).decode()
    }
}

extension SessionLog {
    init(decoding bytes: UnsafeRawBufferPointer) throws(WireError) {
        var reader = ProtoReader(bytes)
        self.init(status: .unspecified)
        while let (number, wireType) = try reader.nextField() {
            switch (number, wireType) {
            case (1, .varint): status = SessionLog.Status(rawValue: Int(truncatingIfNeeded: try reader.varint())) ?? .unspecified
            case (2, .lengthDelimited): checkpointPath = try reader.string()
            case (3, .lengthDelimited): message = try reader.string()
            default: try reader.skip(wireType)
            }
        }
    }
}

extension HistogramSummary {
    /// Decodes a `HistogramProto`; a packed bucket field (how every writer stores them) goes into
    /// an array from `storage`.
    init(decoding bytes: UnsafeRawBufferPointer, reusing storage: inout DecodeStorage) throws(WireError) {
        var reader = ProtoReader(bytes)
        var moments = HistogramMoments()
        var limits: [Double] = []
        var counts: [Double] = []
        while let (number, wireType) = try reader.nextField() {
            switch (number, wireType) {
            #if _endian(little)
            case (6, .lengthDelimited) where limits.isEmpty: limits = storage.bucketLimits(packed: try reader.packedDoubles())
            case (7, .lengthDelimited) where counts.isEmpty: counts = storage.bucketCounts(packed: try reader.packedDoubles())
            #endif
            case (6, .fixed64), (6, .lengthDelimited): try reader.appendDoubles(wireType, to: &limits)
            case (7, .fixed64), (7, .lengthDelimited): try reader.appendDoubles(wireType, to: &counts)
            default: if try !moments.read(number, wireType, from: &reader) { try reader.skip(wireType) }
            }
        }
        storage.giveBack(limits: limits, counts: counts)
        self.init(min: moments.min, max: moments.max, count: moments.count, sum: moments.sum,
                  sumSquares: moments.sumSquares, bucketLimits: limits, bucketCounts: counts)
    }
}

extension ImageSummary {
    init(decoding bytes: UnsafeRawBufferPointer) throws(WireError) {
        var reader = ProtoReader(bytes)
        var width = 0
        var height = 0
        var colorspace = 0
        var encoded: [UInt8] = []
        while let (number, wireType) = try reader.nextField() {
            switch (number, wireType) {
            case (1, .varint): height = Int(truncatingIfNeeded: try reader.varint())
            case (2, .varint): width = Int(truncatingIfNeeded: try reader.varint())
            case (3, .varint): colorspace = Int(truncatingIfNeeded: try reader.varint())
            case (4, .lengthDelimited): encoded = try reader.bytes()
            default: try reader.skip(wireType)
            }
        }
        self.init(width: width, height: height, colorspace: colorspace, encoded: [encoded])
    }
}

extension RawTensor {
    /// A rank-0 floating-point tensor's value.
    var scalar: Double? {
        guard shape.isEmpty, isFloatingPoint, elementCount == 1 else { return nil }
        return number(at: 0)
    }

    /// Turns a tensor into the value its plugin says it is, falling back to `.tensor`.
    func interpret(pluginName: String) -> SummaryValue.Value {
        switch pluginName {
        case "scalars", "":
            if let number = scalar { return .scalar(number) }
        case "histograms":
            if shape.count == 2, shape[1] == 3, isNumeric {
                let rows = Int(clamping: shape[0])
                guard let numbers = numbers(limit: rows * 3), numbers.count == rows * 3 else { break }
                var histogram = BucketHistogram(leftEdges: [], rightEdges: [], counts: [])
                histogram.leftEdges.reserveCapacity(rows)
                histogram.rightEdges.reserveCapacity(rows)
                histogram.counts.reserveCapacity(rows)
                for row in 0..<rows {
                    histogram.leftEdges.append(numbers[row * 3])
                    histogram.rightEdges.append(numbers[row * 3 + 1])
                    histogram.counts.append(numbers[row * 3 + 2])
                }
                return .bucketHistogram(histogram)
            }
        case "text":
            if dtype == RawTensor.stringType {
                return .text(strings.map { String(decoding: $0, as: UTF8.self) })
            }
        case "images":
            if dtype == RawTensor.stringType, strings.count >= 2 {
                let width = Int(String(decoding: strings[0], as: UTF8.self)) ?? 0
                let height = Int(String(decoding: strings[1], as: UTF8.self)) ?? 0
                return .image(ImageSummary(width: width, height: height, colorspace: 0, encoded: Array(strings.dropFirst(2))))
            }
        default: break
        }
        return .tensor(TensorSummary(dtype: dtype, shape: shape, numbers: numbers(limit: 4096) ?? []))
    }
}

/// The parts of a `TensorProto` this reader uses, still pointing into the record's bytes.
struct RawTensor {
    static let stringType = 7

    var dtype = 0
    var shape: [Int64] = []
    var content = UnsafeRawBufferPointer(start: nil, count: 0)
    var floats: [Float] = []
    var doubles: [Double] = []
    var integers: [UInt64] = []  // int_val, int64_val, bool_val, half_val (as bit patterns)
    var strings: [[UInt8]] = []

    init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        var reader = ProtoReader(bytes)
        while let (number, wireType) = try reader.nextField() {
            switch (number, wireType) {
            case (1, .varint): dtype = Int(truncatingIfNeeded: try reader.varint())
            case (2, .lengthDelimited): shape = try RawTensor.decodeShape(try reader.lengthDelimited())
            case (4, .lengthDelimited): content = try reader.lengthDelimited()
            case (5, .fixed32), (5, .lengthDelimited): try reader.appendFloats(wireType, to: &floats)
            case (6, .fixed64), (6, .lengthDelimited): try reader.appendDoubles(wireType, to: &doubles)
            case (7, .varint), (7, .lengthDelimited), (10, .varint), (10, .lengthDelimited),
                (11, .varint), (11, .lengthDelimited), (13, .varint), (13, .lengthDelimited):
                try reader.appendVarints(wireType, to: &integers)
            case (8, .lengthDelimited): strings.append(try reader.bytes())
            default: try reader.skip(wireType)
            }
        }
    }

    private static func decodeShape(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> [Int64] {
        var reader = ProtoReader(bytes)
        var dims: [Int64] = []
        while let (number, wireType) = try reader.nextField() {
            if number == 2, wireType == .lengthDelimited {
                var dim = ProtoReader(try reader.lengthDelimited())
                var size: Int64 = 0
                while let (inner, innerType) = try dim.nextField() {
                    if inner == 1, innerType == .varint {
                        size = Int64(bitPattern: try dim.varint())
                    } else {
                        try dim.skip(innerType)
                    }
                }
                dims.append(size)
            } else {
                try reader.skip(wireType)
            }
        }
        return dims
    }

    var isFloatingPoint: Bool { dtype == 1 || dtype == 2 || dtype == 19 || dtype == 14 }
    var isNumeric: Bool { elementSize != nil }

    /// Bytes per element in `tensor_content`, for the numeric dtypes this reader converts.
    private var elementSize: Int? {
        switch dtype {
        case 1, 3: 4  // float, int32
        case 2, 9: 8  // double, int64
        case 4, 6, 10: 1  // uint8, int8, bool
        case 5, 19, 14: 2  // int16, half, bfloat16
        default: nil
        }
    }

    var elementCount: Int {
        if let size = elementSize, content.count > 0 { return content.count / size }
        return max(floats.count, doubles.count, integers.count)
    }

    func number(at index: Int) -> Double? {
        guard let size = elementSize else { return nil }
        if content.count > 0 {
            guard (index + 1) * size <= content.count else { return nil }
            let offset = index * size
            switch dtype {
            case 1: return Double(Float(bitPattern: UInt32(littleEndian: content.loadUnaligned(fromByteOffset: offset, as: UInt32.self))))
            case 2: return Double(bitPattern: UInt64(littleEndian: content.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
            case 3: return Double(Int32(littleEndian: content.loadUnaligned(fromByteOffset: offset, as: Int32.self)))
            case 9: return Double(Int64(littleEndian: content.loadUnaligned(fromByteOffset: offset, as: Int64.self)))
            case 4, 10: return Double(content[offset])
            case 6: return Double(Int8(bitPattern: content[offset]))
            case 5: return Double(Int16(littleEndian: content.loadUnaligned(fromByteOffset: offset, as: Int16.self)))
            case 19: return HalfFloat.double(fromBits: UInt16(littleEndian: content.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
            case 14: return Double(Float(bitPattern: UInt32(UInt16(littleEndian: content.loadUnaligned(fromByteOffset: offset, as: UInt16.self))) << 16))
            default: return nil
            }
        }
        switch dtype {
        case 1: return index < floats.count ? Double(floats[index]) : nil
        case 2: return index < doubles.count ? doubles[index] : nil
        case 19: return index < integers.count ? HalfFloat.double(fromBits: UInt16(truncatingIfNeeded: integers[index])) : nil
        case 14: return index < integers.count ? Double(Float(bitPattern: UInt32(UInt16(truncatingIfNeeded: integers[index])) << 16)) : nil
        case 3, 5, 6: return index < integers.count ? Double(Int32(truncatingIfNeeded: integers[index])) : nil
        case 9: return index < integers.count ? Double(Int64(bitPattern: integers[index])) : nil
        case 4, 10: return index < integers.count ? Double(integers[index]) : nil
        default: return nil
        }
    }

    /// Up to `limit` elements as doubles, or nil for non-numeric dtypes or larger tensors.
    func numbers(limit: Int) -> [Double]? {
        guard isNumeric else { return nil }
        let count = elementCount
        guard count <= limit else { return nil }
        var result: [Double] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            guard let value = number(at: index) else { return nil }
            result.append(value)
        }
        return result
    }
}
