
/// Reads protobuf fields from a byte range it does not own. Every read is bounds-checked against
/// the end of the message first; lengths are compared with the bytes present before anything is
/// read or allocated for them.
struct ProtoReader {
    private var position: UnsafePointer<UInt8>
    private let end: UnsafePointer<UInt8>

    init(_ bytes: UnsafeRawBufferPointer) {
        if let base = bytes.baseAddress {
            position = base.assumingMemoryBound(to: UInt8.self)
            end = position + bytes.count
        } else {
            // An empty message: any non-null pointer whose range is empty.
            position = UnsafePointer(bitPattern: 1)!
            end = position
        }
    }

    var isAtEnd: Bool { position >= end }

    @inline(__always)
    mutating func varint() throws(WireError) -> UInt64 {
        guard position < end else { throw .truncated }
        let first = position.pointee
        if first & 0x80 == 0 {
            position += 1
            return UInt64(first)
        }
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw .truncated }
            guard shift <= 63 else { throw .malformed }
            let byte = position.pointee
            position += 1
            result |= UInt64(byte & 0x7f) &<< shift
            if byte & 0x80 == 0 { return result }
            shift &+= 7
        }
    }

    /// The next field's number and wire type, or nil at the end of the message.
    @inline(__always)
    mutating func nextField() throws(WireError) -> (number: Int, wireType: WireType)? {
        guard position < end else { return nil }
        let key = try varint()
        let number = key &>> 3
        guard number > 0, number <= UInt64(Int32.max),
            let wireType = WireType(rawValue: UInt8(truncatingIfNeeded: key & 7))
        else { throw .malformed }
        return (Int(number), wireType)
    }

    @inline(__always)
    mutating func fixed64() throws(WireError) -> UInt64 {
        guard end - position >= 8 else { throw .truncated }
        let value = UnsafeRawPointer(position).loadUnaligned(as: UInt64.self)
        position += 8
        return UInt64(littleEndian: value)
    }

    @inline(__always)
    mutating func fixed32() throws(WireError) -> UInt32 {
        guard end - position >= 4 else { throw .truncated }
        let value = UnsafeRawPointer(position).loadUnaligned(as: UInt32.self)
        position += 4
        return UInt32(littleEndian: value)
    }

    @inline(__always)
    mutating func double() throws(WireError) -> Double { Double(bitPattern: try fixed64()) }

    @inline(__always)
    mutating func float() throws(WireError) -> Float { Float(bitPattern: try fixed32()) }

    /// A length-delimited payload, as a view into the message's bytes.
    @inline(__always)
    mutating func lengthDelimited() throws(WireError) -> UnsafeRawBufferPointer {
        let length = try varint()
        guard length <= UInt64(end - position) else { throw .truncated }
        let slice = UnsafeRawBufferPointer(start: position, count: Int(length))
        position += Int(length)
        return slice
    }

    /// A packed run of doubles (fixed64 values): a length-delimited payload of whole 8-byte values.
    mutating func packedDoubles() throws(WireError) -> UnsafeRawBufferPointer {
        let payload = try lengthDelimited()
        guard payload.count % 8 == 0 else { throw .malformed }
        return payload
    }

    mutating func string() throws(WireError) -> String {
        String(decoding: try lengthDelimited(), as: UTF8.self)
    }

    mutating func bytes() throws(WireError) -> [UInt8] {
        Array(try lengthDelimited())
    }

    /// Skips a field this decoder does not know, by its wire type.
    mutating func skip(_ wireType: WireType) throws(WireError) {
        switch wireType {
        case .varint: _ = try varint()
        case .fixed64:
            guard end - position >= 8 else { throw .truncated }
            position += 8
        case .fixed32:
            guard end - position >= 4 else { throw .truncated }
            position += 4
        case .lengthDelimited: _ = try lengthDelimited()
        case .startGroup, .endGroup: throw .malformed
        }
    }

    /// Reads a repeated double field that may be packed (one length-delimited run) or not (one
    /// fixed64 per element); both encodings are valid for the same field.
    mutating func appendDoubles(_ wireType: WireType, to values: inout [Double]) throws(WireError) {
        switch wireType {
        case .fixed64: values.append(try double())
        case .lengthDelimited:
            let payload = try lengthDelimited()
            guard payload.count % 8 == 0 else { throw .malformed }
            let count = payload.count / 8
            #if _endian(little)
            if values.isEmpty {
                // The common case, a whole packed run: one allocation and one copy.
                var noScratch: [Double] = []
                values = [Double](packedDoubles: payload, scratch: &noScratch, keepsScratch: false)
                return
            }
            #endif
            values.reserveCapacity(values.count + count)
            var offset = 0
            while offset < payload.count {
                values.append(Double(bitPattern: UInt64(littleEndian: payload.loadUnaligned(fromByteOffset: offset, as: UInt64.self))))
                offset += 8
            }
        default: throw .malformed
        }
    }

    /// As `appendDoubles`, for repeated float fields.
    mutating func appendFloats(_ wireType: WireType, to values: inout [Float]) throws(WireError) {
        switch wireType {
        case .fixed32: values.append(try float())
        case .lengthDelimited:
            let payload = try lengthDelimited()
            guard payload.count % 4 == 0 else { throw .malformed }
            values.reserveCapacity(values.count + payload.count / 4)
            var offset = 0
            while offset < payload.count {
                values.append(Float(bitPattern: UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: offset, as: UInt32.self))))
                offset += 4
            }
        default: throw .malformed
        }
    }

    /// As `appendDoubles`, for repeated varint fields (int32/int64/bool).
    mutating func appendVarints(_ wireType: WireType, to values: inout [UInt64]) throws(WireError) {
        switch wireType {
        case .varint: values.append(try varint())
        case .lengthDelimited:
            var inner = ProtoReader(try lengthDelimited())
            while !inner.isAtEnd { values.append(try inner.varint()) }
        default: throw .malformed
        }
    }
}

extension Array where Element == Double {
    /// A new array of exactly `payload`'s doubles (little-endian, any alignment; a whole number of
    /// 8-byte values). Doubles at an odd address are copied through `scratch` when `keepsScratch`
    /// (it grows to the largest run up to `DecodeStorage.largestKept` and is kept by the caller),
    /// else through a temporary allocation.
    ///
    /// Built with `Array(UnsafeBufferPointer)`, whose storage allocation is specialised here; the
    /// other initialisers (`repeating:`, `unsafeUninitializedCapacity:`) call the standard
    /// library's generic one, which looks the storage class's metadata up in a locked table on
    /// every call (measured: 40 against 75 ns for 100 doubles).
    @inline(never)  // the uncommon path of its callers, which stay small enough to inline
    init(packedDoubles payload: UnsafeRawBufferPointer, scratch: inout [Double], keepsScratch: Bool) {
        let count = payload.count / 8
        guard count > 0 else {
            self = []
            return
        }
        if Int(bitPattern: payload.baseAddress) & (MemoryLayout<Double>.alignment - 1) == 0 {
            self = payload.withMemoryRebound(to: Double.self) { Array($0) }
        } else if keepsScratch, count <= DecodeStorage.largestKept {
            growScratch(&scratch, to: count)
            self = scratch.withUnsafeMutableBufferPointer { room in
                let slice = UnsafeMutableBufferPointer(rebasing: room[0..<count])
                UnsafeMutableRawBufferPointer(slice).copyMemory(from: payload)
                return Array(UnsafeBufferPointer(slice))
            }
        } else {
            self = withUnsafeTemporaryAllocation(of: Double.self, capacity: count) { room in
                UnsafeMutableRawBufferPointer(room).copyMemory(from: payload)
                return Array(UnsafeBufferPointer(room))
            }
        }
    }
}

/// Makes `scratch` hold at least `count` doubles (at least 256, so that it rarely grows again).
func growScratch(_ scratch: inout [Double], to count: Int) {
    if scratch.count < count { scratch = Array(repeating: 0, count: Swift.max(count, 256)) }
}
