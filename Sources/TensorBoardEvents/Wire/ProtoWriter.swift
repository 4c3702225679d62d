/// Writes protobuf fields into storage that was sized beforehand. The caller computes the exact
/// encoded size, allocates once, and this writer fills it front to back: no growth, no copies.
struct ProtoWriter {
    private(set) var pointer: UnsafeMutablePointer<UInt8>
    private let end: UnsafeMutablePointer<UInt8>

    init(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        pointer = buffer.baseAddress!
        end = pointer + buffer.count
    }

    /// Bytes still free; 0 when the precomputed size was exact.
    var remaining: Int { end - pointer }

    @inline(__always)
    mutating func varint(_ value: UInt64) {
        assert(end - pointer >= Varint.size(value))
        pointer += Varint.write(value, to: pointer)
    }

    @inline(__always)
    mutating func key(_ number: Int, _ wireType: WireType) {
        varint(FieldKey.value(number, wireType))
    }

    @inline(__always)
    mutating func fixed64(_ value: UInt64) {
        assert(end - pointer >= 8)
        UnsafeMutableRawPointer(pointer).storeBytes(of: value.littleEndian, as: UInt64.self)
        pointer += 8
    }

    @inline(__always)
    mutating func fixed32(_ value: UInt32) {
        assert(end - pointer >= 4)
        UnsafeMutableRawPointer(pointer).storeBytes(of: value.littleEndian, as: UInt32.self)
        pointer += 4
    }

    @inline(__always)
    mutating func bytes(_ source: UnsafeRawBufferPointer) {
        assert(end - pointer >= source.count)
        if let base = source.baseAddress, source.count > 0 {
            UnsafeMutableRawPointer(pointer).copyMemory(from: base, byteCount: source.count)
        }
        pointer += source.count
    }

    // MARK: Whole fields

    @inline(__always)
    mutating func doubleField(_ number: Int, _ value: Double) {
        key(number, .fixed64)
        fixed64(value.bitPattern)
    }

    @inline(__always)
    mutating func floatField(_ number: Int, _ value: Float) {
        key(number, .fixed32)
        fixed32(value.bitPattern)
    }

    @inline(__always)
    mutating func int64Field(_ number: Int, _ value: Int64) {
        key(number, .varint)
        varint(UInt64(bitPattern: value))
    }

    @inline(__always)
    mutating func lengthPrefix(_ number: Int, _ length: Int) {
        key(number, .lengthDelimited)
        varint(UInt64(length))
    }

    mutating func bytesField(_ number: Int, _ value: [UInt8]) {
        lengthPrefix(number, value.count)
        value.withUnsafeBytes { bytes($0) }
    }

    mutating func stringField(_ number: Int, _ value: String) {
        let utf8 = value.utf8
        lengthPrefix(number, utf8.count)
        if utf8.withContiguousStorageIfAvailable({ bytes(UnsafeRawBufferPointer($0)) }) == nil {
            for byte in utf8 {
                pointer.pointee = byte
                pointer += 1
            }
        }
    }

    /// A packed repeated double field (`[packed = true]`, proto3's default for scalars).
    mutating func packedDoubles(_ number: Int, _ values: [Double]) {
        lengthPrefix(number, values.count &* 8)
        for value in values { fixed64(value.bitPattern) }
    }
}

extension FieldSize {
    static func string(_ number: Int, _ value: String) -> Int {
        lengthDelimited(number, payload: value.utf8.count)
    }

    static func packedDoubles(_ number: Int, count: Int) -> Int {
        lengthDelimited(number, payload: count &* 8)
    }
}
