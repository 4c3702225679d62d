#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds a tag's index from its UTF-8 bytes as they lie in a record, without making a `String`:
/// an open-addressing table keyed by an FNV-1a hash of the bytes, checked byte for byte.
struct TagTable {
    private var slots: [Int32] = Array(repeating: -1, count: 64)
    private var hashes: [UInt64] = []
    private var keys: [[UInt8]] = []

    /// The index given to `bytes` by `insert`, or nil.
    func find(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let hash = Self.hash(bytes)
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let index = Int(slots[slot])
            if index < 0 { return nil }
            if hashes[index] == hash, Self.equal(keys[index], bytes) { return index }
            slot = (slot + 1) & mask
        }
    }

    /// Records `bytes` under `index`, the next index (indices are given out in order from 0).
    mutating func insert(_ bytes: UnsafeRawBufferPointer, index: Int) {
        precondition(index == keys.count, "tag indices are given out in order")
        hashes.append(Self.hash(bytes))
        keys.append(Array(bytes))
        if keys.count * 2 > slots.count {
            slots = Array(repeating: -1, count: slots.count * 2)
            for key in 0..<keys.count { place(key) }
        } else {
            place(index)
        }
    }

    private mutating func place(_ index: Int) {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hashes[index]) & mask
        while slots[slot] >= 0 { slot = (slot + 1) & mask }
        slots[slot] = Int32(index)
    }

    private static func equal(_ key: [UInt8], _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard key.count == bytes.count else { return false }
        return key.withUnsafeBytes { stored in
            stored.count == 0 || memcmp(stored.baseAddress!, bytes.baseAddress!, stored.count) == 0
        }
    }

    /// FNV-1a over 8-byte words (then the last few bytes), with the high bits mixed down: the
    /// table uses the low ones. Tags are short; this is a few multiplies per lookup.
    private static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(bytes.count)
        var offset = 0
        while offset + 8 <= bytes.count {
            hash ^= bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            hash &*= 0x0000_0100_0000_01b3
            hash ^= hash >> 32
            offset += 8
        }
        while offset < bytes.count {
            hash ^= UInt64(bytes[offset])
            hash &*= 0x0000_0100_0000_01b3
            offset += 1
        }
        return hash ^ (hash >> 29)
    }
}
