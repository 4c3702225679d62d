#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `EventFileReader.next()` decodes into and takes back, so that the usual loop (handle an
/// event, let it go, read the next) allocates little:
/// - the previous event's array of values, and the bucket arrays of its first histogram, used
///   again once the caller has let that event go;
/// - the tags decoded recently, so that a repeated tag is one compare, not a new string.
///
/// Why: allocation was most of what decoding cost. A histogram's bucket arrays are usually just
/// over 1 KiB, past glibc's per-thread cache, so each took malloc's slow path, and freeing the event
/// took it again; and a tag over 15 bytes is an allocation of its own.
///
/// It changes nothing a caller can see:
/// - The reader keeps a copy of the arrays it hands out, and writes an array again only when that
///   copy is the last one left. An array the caller still holds is never written: Swift arrays
///   copy on write, so the reader then gets a new buffer instead.
/// - A caller that keeps its events (`readAll()`) is soon noticed: 8 value arrays or 8 bucket
///   arrays in a row that came back still shared turn reuse off for that reader, which then allocates exactly as it would
///   without this. Tags are still shared: strings are immutable.
/// - A bucket array is reused only when its capacity is at most a quarter (plus 8) over what is
///   needed, so a bucket array the caller keeps never has much spare room. (A value array may have
///   room for up to 16 values.)
/// - Between events the reader holds at most: an array of 16 values, which it keeps only when they
///   are scalars and at most one histogram, whose bucket arrays are the two it keeps anyway; two
///   bucket arrays of `largestKept` doubles; an aligned copy area as large; and `tagSlots` tags of
///   up to `longestCachedTag` bytes, with a copy of their bytes (16 KiB). An event with images,
///   text, tensors or a second histogram is not held on to.
struct DecodeStorage {
    /// Capacity, in doubles, above which a bucket array is not kept for reuse (128 KiB).
    static let largestKept = 1 << 14
    /// Capacity, in values, above which an event's array of values is not kept for reuse.
    static let mostValuesKept = 16
    /// Arrays in a row that came back shared, after which reuse stops.
    static let missesBeforeGivingUp = 8
    static let tagSlots = 256
    static let longestCachedTag = 64

    /// Whether arrays are still reused (false from the start for one-off decoding).
    private(set) var isReusing: Bool
    private let cachesTags: Bool
    private var values: [SummaryValue] = []
    private var limits: [Double] = []
    private var counts: [Double] = []
    /// Whether this event's first histogram has had the spare bucket arrays: later ones in the same
    /// event allocate theirs, since the spares are then held by the first.
    private var sparesGiven = false
    /// Whether this event's values hold nothing but scalars and one histogram whose bucket arrays
    /// were kept: only then is its value array kept, so that little memory is held between events.
    private var valuesAreLight = true
    /// Tags by a hash of their bytes (a slot holds the last tag that hashed to it), with a copy of
    /// each slot's bytes (`longestCachedTag` a slot) and its length, which a tag read is compared
    /// with: a few word compares, where the string's own bytes took a call to reach and `memcmp`.
    private var tags: [String] = []
    private var tagBytes: [UInt64] = []
    private var tagCounts: [UInt8] = []
    /// 8-byte aligned room that packed doubles stored at an odd address are copied through.
    private var aligned: [Double] = []
    /// Value arrays and bucket arrays that came back still shared, in a row, counted apart: an
    /// empty summary's array, which the caller never gets, must not hide bucket arrays the caller
    /// keeps.
    private var valueMisses = 0
    private var bucketMisses = 0

    /// How many values of the last event are held for reuse (for tests).
    var heldValueCount: Int { values.count }

    /// Storage for a reader (`reusing: true`), or for decoding one event, which allocates every
    /// array and string afresh.
    init(reusing: Bool) {
        isReusing = reusing
        cachesTags = reusing
    }

    /// An empty array for an event's values: the last event's, when the caller has let it go. Also
    /// drops the last event's values held here, so that its bucket arrays can be reused.
    mutating func takeValues() -> [SummaryValue] {
        sparesGiven = false
        valuesAreLight = true
        var taken: [SummaryValue] = []
        swap(&taken, &values)
        guard isReusing, taken.capacity > 0 else { return [] }
        Self.empty(&taken, misses: &valueMisses, isReusing: &isReusing)
        return isReusing ? taken : []
    }

    /// The tag whose UTF-8 bytes are `bytes`: the string made for the same bytes before, if it is
    /// still in the cache.
    mutating func tag(_ bytes: UnsafeRawBufferPointer) -> String {
        guard cachesTags, bytes.count <= Self.longestCachedTag, !bytes.isEmpty, let base = bytes.baseAddress else {
            return String(decoding: bytes, as: UTF8.self)
        }
        if tags.isEmpty {
            tags = Array(repeating: "", count: Self.tagSlots)
            tagBytes = Array(repeating: 0, count: Self.tagSlots * Self.longestCachedTag / 8)
            tagCounts = Array(repeating: 0, count: Self.tagSlots)
        }
        let count = bytes.count
        let slot = Self.slot(base, count)
        let found = Int(tagCounts[slot]) == count && tagBytes.withUnsafeBytes { cached in
            Self.equal(base, cached.baseAddress! + slot * Self.longestCachedTag, count)
        }
        if found { return tags[slot] }
        // Made from the bytes, so an invalid UTF-8 tag comes out repaired, as it would uncached.
        let made = String(decoding: bytes, as: UTF8.self)
        tags[slot] = made
        tagCounts[slot] = UInt8(count)
        tagBytes.withUnsafeMutableBytes { cached in
            (cached.baseAddress! + slot * Self.longestCachedTag).copyMemory(from: base, byteCount: count)
        }
        return made
    }

    /// Whether the `count` bytes at `a` and at `b` are the same (1 <= count <= 64), reading no byte
    /// outside either: whole words, the last one overlapping the word before.
    @inline(__always)
    private static func equal(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
        if count < 8 {
            for index in 0..<count where a.load(fromByteOffset: index, as: UInt8.self) != b.load(fromByteOffset: index, as: UInt8.self) {
                return false
            }
            return true
        }
        var offset = 0
        while offset + 8 < count {
            if a.loadUnaligned(fromByteOffset: offset, as: UInt64.self) != b.loadUnaligned(fromByteOffset: offset, as: UInt64.self) {
                return false
            }
            offset += 8
        }
        return a.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
    }

    /// A slot for a tag, from all its bytes (tags such as `model.layers.3.mlp.weight` differ only
    /// in the middle).
    @inline(__always)
    private static func slot(_ base: UnsafeRawPointer, _ count: Int) -> Int {
        var key = UInt64(truncatingIfNeeded: count) &* 0x9E37_79B9_7F4A_7C15
        if count >= 8 {
            var offset = 0
            while offset + 8 < count {
                key = (key ^ base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
                offset += 8
            }
            // The last 8 bytes, overlapping the word before when the length is not a multiple of 8.
            key = (key ^ base.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)) &* 0x94D0_49BB_1331_11EB
        } else {
            var word: UInt64 = 0
            for index in 0..<count { word = word << 8 | UInt64(base.load(fromByteOffset: index, as: UInt8.self)) }
            key = (key ^ word) &* 0x94D0_49BB_1331_11EB
        }
        return Int(truncatingIfNeeded: (key ^ key >> 31) >> 56)
    }

    /// Notes what a value holds, for `giveBack(values:)`. (A histogram is noted by
    /// `giveBack(limits:counts:)`.)
    mutating func note(_ value: SummaryValue.Value) {
        switch value {
        case .scalar, .unknown, .histogram: break
        case .bucketHistogram, .text, .image, .tensor: valuesAreLight = false
        }
    }

    /// Keeps the array the event was given, for the next event, when what it holds is small.
    mutating func giveBack(values given: [SummaryValue]) {
        if isReusing, valuesAreLight, given.capacity <= Self.mostValuesKept { values = given }
    }

    /// A histogram's bucket right edges, from the packed doubles in `payload`.
    @inline(__always)
    mutating func bucketLimits(packed payload: UnsafeRawBufferPointer) -> [Double] {
        var spare: [Double] = []
        if !sparesGiven { swap(&spare, &limits) }
        return Self.doubles(packed: payload, spare: &spare, aligned: &aligned, misses: &bucketMisses, isReusing: &isReusing)
    }

    /// A histogram's bucket counts, from the packed doubles in `payload`.
    @inline(__always)
    mutating func bucketCounts(packed payload: UnsafeRawBufferPointer) -> [Double] {
        var spare: [Double] = []
        if !sparesGiven { swap(&spare, &counts) }
        return Self.doubles(packed: payload, spare: &spare, aligned: &aligned, misses: &bucketMisses, isReusing: &isReusing)
    }

    /// Keeps the bucket arrays of an event's first histogram, for the next event's.
    mutating func giveBack(limits givenLimits: [Double], counts givenCounts: [Double]) {
        guard isReusing, !sparesGiven, givenLimits.capacity <= Self.largestKept, givenCounts.capacity <= Self.largestKept else {
            valuesAreLight = false
            return
        }
        sparesGiven = true
        limits = givenLimits
        counts = givenCounts
    }

    /// `payload`'s doubles (little-endian, any alignment) in an array: `spare`, overwritten, when
    /// its capacity fits; otherwise a new array of exactly the right size, with unaligned doubles
    /// copied through `aligned`.
    private static func doubles(
        packed payload: UnsafeRawBufferPointer, spare: inout [Double], aligned: inout [Double],
        misses: inout Int, isReusing: inout Bool
    ) -> [Double] {
        let count = payload.count / 8
        var result: [Double] = []
        swap(&result, &spare)
        if !isReusing, !aligned.isEmpty { aligned = [] }
        if isReusing, result.capacity >= count, result.capacity <= count + count / 4 + 8 {
            // Resized (by the difference only), then overwritten with one copy. Growing appends
            // whatever the aligned scratch holds (a copy, where appending zeros is a loop).
            let before = result.withUnsafeBufferPointer { $0.baseAddress }
            if result.count > count {
                result.removeLast(result.count - count)
            } else if result.count < count {
                let missing = count - result.count
                growScratch(&aligned, to: missing)
                aligned.withUnsafeBufferPointer { result.append(contentsOf: UnsafeBufferPointer(rebasing: $0[0..<missing])) }
            }
            result.withUnsafeMutableBytes { $0.copyMemory(from: payload) }
            tally(reused: result.withUnsafeBufferPointer { $0.baseAddress } == before, misses: &misses, isReusing: &isReusing)
            return result
        }
        return [Double](packedDoubles: payload, scratch: &aligned, keepsScratch: isReusing)
    }

    /// Empties `array` keeping its capacity, and counts whether its buffer was still shared.
    @inline(__always)
    private static func empty(_ array: inout [SummaryValue], misses: inout Int, isReusing: inout Bool) {
        let before = array.withUnsafeBufferPointer { $0.baseAddress }
        // `removeLast()` is far cheaper than `removeAll(keepingCapacity:)` for the usual one value.
        while !array.isEmpty { array.removeLast() }
        tally(reused: array.withUnsafeBufferPointer { $0.baseAddress } == before, misses: &misses, isReusing: &isReusing)
    }

    /// Counts an array that came back still shared (Swift then gave it a new buffer): the caller
    /// kept the event that held it.
    @inline(__always)
    private static func tally(reused: Bool, misses: inout Int, isReusing: inout Bool) {
        if reused {
            misses = 0
        } else {
            misses += 1
            if misses >= missesBeforeGivingUp { isReusing = false }
        }
    }
}
