/// The five protobuf wire types this codec meets (groups are skipped as malformed).
enum WireType: UInt8 {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case startGroup = 3
    case endGroup = 4
    case fixed32 = 5
}

/// A field key: `(number << 3) | wireType`.
enum FieldKey {
    @inline(__always)
    static func value(_ number: Int, _ wireType: WireType) -> UInt64 {
        UInt64(number) &<< 3 | UInt64(wireType.rawValue)
    }

    /// Size of the key of a field with this number.
    @inline(__always)
    static func size(_ number: Int) -> Int {
        Varint.size(UInt64(number) &<< 3)
    }
}

/// Sizes of whole fields, for messages that compute their encoded size before writing.
enum FieldSize {
    @inline(__always)
    static func lengthDelimited(_ number: Int, payload: Int) -> Int {
        FieldKey.size(number) &+ Varint.size(UInt64(payload)) &+ payload
    }

    @inline(__always)
    static func fixed64(_ number: Int) -> Int { FieldKey.size(number) &+ 8 }

    @inline(__always)
    static func fixed32(_ number: Int) -> Int { FieldKey.size(number) &+ 4 }

    @inline(__always)
    static func varint(_ number: Int, _ value: UInt64) -> Int { FieldKey.size(number) &+ Varint.size(value) }
}
