#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CGradAlertCRC32C

/// What reading an event file yields, in file order.
public enum EventFileEntry: Sendable {
    /// A record whose two CRCs verified and whose data decoded, with the offset where it starts.
    case event(Event, offset: Int)
    indirect case diagnostic(RecordDiagnostic)
}

/// Reads the records of one event file, checking both CRCs of every record.
///
/// Damage is reported and passed over, never the end of reading: after a bad length CRC the
/// reader searches forward, looking at every offset in turn (a block at a time), for the next one
/// where a whole record verifies; after a bad data CRC it skips the record its verified length
/// describes. A file that ends inside a record reports a `truncated` diagnostic once and stops
/// there; call `next()` again when the file has grown and reading resumes at that record. No
/// buffer is sized by a length field before the file is known to hold that many bytes.
public final class EventFileReader {
    /// Lengths above this are not believed even when their CRC matches.
    public static let maximumRecordLength = 1 << 31

    public let path: String
    /// Where the next record starts: everything before it has been returned.
    public var offset: Int { cursor.offset }

    /// All the mutable state, in one value: each read is one access to it, not one per field.
    /// Unchecked: no access to it can overlap another. Its methods never call out to code that
    /// could reach the reader (`withNextEvent` calls its closure after the access has ended), and
    /// the reader is not `Sendable`, so no other thread may use it. The run-time check cost 5% of
    /// a decoding read (callgrind: 384.4M to 365.4M instructions on a 50 MB logdir).
    @exclusivity(unchecked) private var cursor: Cursor

    /// The largest record, framing included, that is read from a gzip-compressed file (256 MiB);
    /// larger ones are reported and skipped. Settable for tests.
    var gzipRecordLimit: Int {
        get { cursor.gzipRecordLimit }
        set { cursor.gzipRecordLimit = newValue }
    }

    /// Whether the file is gzip-compressed (its offsets are then offsets in the decompressed data).
    public var isGzipCompressed: Bool { cursor.gzip != nil }

    /// Whether `next()` still reuses the arrays of events the caller let go (for tests).
    var reusesArrays: Bool { cursor.storage.isReusing }
    /// How many values of the last summary event the reader holds for reuse (for tests).
    var heldValueCount: Int { cursor.storage.heldValueCount }

    /// Where the window was last loaded from in the file, and its address (for tests: both should
    /// be multiples of 64).
    var windowPlacement: (fileOffset: Int, address: Int) {
        (cursor.windowStart, Int(bitPattern: cursor.window.baseAddress))
    }

    /// For a gzip file, the bytes its window of decompressed data holds now (for tests).
    var gzipWindowCapacity: Int? { cursor.gzip?.window.count }

    public init(path: String, bufferSize: Int = 1 << 20) {
        self.path = path
        cursor = Cursor(path: path, window: .allocate(byteCount: Swift.max(bufferSize, 64), alignment: Cursor.windowAlignment))
        cursor.descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if cursor.descriptor < 0 {
            let code = errno
            cursor.openFailure = RecordDiagnostic(
                file: path, offset: 0, problem: .unreadable,
                message: "cannot open: \(String(cString: strerror(code))) (errno \(code))")
        } else {
            var prefix = (UInt64(0), UInt32(0))
            let count = withUnsafeMutableBytes(of: &prefix) { pread(cursor.descriptor, $0.baseAddress!, $0.count, 0) }
            withUnsafeBytes(of: &prefix) { prefix in
                let read = UnsafeRawBufferPointer(rebasing: prefix[0..<Swift.max(count, 0)])
                if Cursor.isGzip(read) {
                    cursor.gzip = GzipInput(descriptor: cursor.descriptor, windowSize: bufferSize)
                    // The gzip input keeps its own window of decompressed bytes.
                    cursor.window.deallocate()
                    cursor.window = .allocate(byteCount: 64, alignment: 16)
                }
            }
        }
    }

    /// Reads records from bytes in memory (a file read by other means, a decompressed stream, a
    /// fuzzer's input); `name` stands for the file in diagnostics.
    public init(bytes: [UInt8], name: String = "<memory>") {
        path = name
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.max(bytes.count, 1), alignment: 16)
        bytes.withUnsafeBytes { copy.copyMemory(from: $0) }
        cursor = Cursor(path: name, window: .allocate(byteCount: 64, alignment: 16))
        cursor.memory = UnsafeMutableRawBufferPointer(rebasing: copy[0..<bytes.count])
        cursor.fileSize = bytes.count
        if Cursor.isGzip(UnsafeRawBufferPointer(cursor.memory!)) {
            cursor.gzip = GzipInput(memory: UnsafeRawBufferPointer(cursor.memory!), windowSize: 1 << 20)
        }
    }

    deinit {
        if cursor.descriptor >= 0 { _ = closeDescriptor(cursor.descriptor) }
        if let memory = cursor.memory, let base = memory.baseAddress { UnsafeMutableRawPointer(mutating: base).deallocate() }
        cursor.window.deallocate()
    }

    /// Moves forward to `offset` without returning what lies before it: where another reader of
    /// the same data stopped (`watch` does this when `gzip` replaces a file it was following).
    /// Offsets are those `offset` reports; in a gzip file, the bytes before it are decompressed
    /// and dropped. An offset at or before the current one changes nothing.
    public func skip(to offset: Int) {
        if offset > cursor.offset { cursor.offset = offset }
    }

    /// Every entry from the current offset to the end of the file as it is now.
    public func readAll() -> [EventFileEntry] {
        var entries: [EventFileEntry] = []
        while let entry = next() { entries.append(entry) }
        return entries
    }

    /// The next event or diagnostic, or nil at the end of the file as it is now.
    ///
    /// An event's arrays are reused for a later event once the caller has let go of it, so the
    /// usual loop, which handles each event and moves on, allocates little (`DecodeStorage`).
    public func next() -> EventFileEntry? {
        cursor.nextEvent()
    }

    /// What the fast path hands out: an event read in place, or a diagnostic.
    public enum ViewEntry {
        /// A record whose CRCs verified and whose top-level fields decoded, with its offset.
        case event(EventView, offset: Int)
        case diagnostic(RecordDiagnostic)
    }

    /// As `next()`, without copying or decoding more than is asked for: `body` gets the next event as
    /// an `EventView` into the reader's buffer, valid only during the call. Returns nil at the end
    /// of the file as it is now. A value the consumer then finds malformed can be reported with
    /// `malformed(at:length:_:)`.
    public func withNextEvent<Result>(_ body: (ViewEntry) -> Result) -> Result? {
        switch cursor.nextRecord() {
        case nil: return nil
        case .diagnostic(let diagnostic): return body(.diagnostic(diagnostic))
        case .record(let data, let start):
            let view: EventView
            do throws(WireError) {
                view = try EventView(bytes: data)
            } catch {
                return body(.diagnostic(malformed(at: start, length: data.count, error)))
            }
            return body(.event(view, offset: start))
        }
    }

    /// The diagnostic for a record whose CRCs match but whose content is not a valid Event.
    public func malformed(at offset: Int, length: Int, _ error: WireError) -> RecordDiagnostic {
        RecordDiagnostic.malformed(file: path, at: offset, length: length, error)
    }
}

extension RecordDiagnostic {
    static func malformed(file: String, at offset: Int, length: Int, _ error: WireError) -> RecordDiagnostic {
        RecordDiagnostic(
            file: file, offset: offset, problem: .badRecord,
            message: "a \(length)-byte record with valid CRCs is not a valid Event (\(error == .truncated ? "a field runs past its end" : "malformed protobuf")); skipped")
    }
}

/// Where an `EventFileReader` is in its file, and the window of bytes it holds.
private struct Cursor {
    let path: String
    var offset = 0
    var descriptor: Int32 = -1
    /// A copy of the bytes when reading from memory rather than from a file.
    var memory: UnsafeMutableRawBufferPointer?
    /// For a gzip-compressed file: its decompressed bytes, which all offsets then refer to.
    var gzip: GzipInput?
    /// Whether a gzip file's failure (damage, trailing bytes) was reported: it is final, so once.
    var reportedGzipFailure = false
    /// The largest record (framing included) read from a gzip file.
    var gzipRecordLimit = 1 << 28
    var openFailure: RecordDiagnostic?
    var window: UnsafeMutableRawBufferPointer
    var windowStart = 0
    var windowCount = 0
    var fileSize = 0
    var reportedTruncationAt = -1
    /// Arrays of earlier events, for `nextEvent()` to decode into again.
    var storage = DecodeStorage(reusing: true)

    init(path: String, window: UnsafeMutableRawBufferPointer) {
        self.path = path
        self.window = window
    }

    /// The next record decoded into an event, or a diagnostic (one access to the reader's state).
    mutating func nextEvent() -> EventFileEntry? {
        switch nextRecord() {
        case nil: return nil
        case .diagnostic(let diagnostic): return .diagnostic(diagnostic)
        case .record(let data, let start):
            do throws(WireError) {
                return .event(try EventView(bytes: data).decode(reusing: &storage), offset: start)
            } catch {
                return .diagnostic(.malformed(file: path, at: start, length: data.count, error))
            }
        }
    }

    enum RecordStep {
        case record(UnsafeRawBufferPointer, offset: Int)
        case diagnostic(RecordDiagnostic)
    }

    /// The next record's verified data (valid until the next read), or a diagnostic.
    mutating func nextRecord() -> RecordStep? {
        if let failure = openFailure {
            openFailure = nil
            descriptor = -1
            return .diagnostic(failure)
        }
        guard descriptor >= 0 || memory != nil else { return nil }
        guard let header = bytes(at: offset, count: TFRecord.headerSize) else {
            return truncation(needed: TFRecord.headerSize)
        }
        let length = header.loadUnaligned(as: UInt64.self).littleEndian
        let storedLengthCRC = header.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian
        guard gradalert_crc32c_masked(header.baseAddress!, 8) == storedLengthCRC else {
            return .diagnostic(resynchronise(from: offset, problem: .badLengthCRC, what: "the length field does not match its CRC"))
        }
        guard length <= UInt64(EventFileReader.maximumRecordLength) else {
            return .diagnostic(resynchronise(from: offset, problem: .badRecord, what: "the record claims an absurd length of \(length) bytes"))
        }
        let recordSize = Int(length) + TFRecord.overhead
        if gzip != nil, recordSize > gzipRecordLimit {
            // Decompressed bytes always exist (a few MB of gzip can hold GBs of zeros): the window
            // is not grown past this, and the record is passed over without being held.
            let start = offset
            offset += recordSize
            return .diagnostic(RecordDiagnostic(
                file: path, offset: start, problem: .badRecord,
                message: "a \(length)-byte record in a gzip file is larger than the \(gzipRecordLimit >> 20) MiB the reader decompresses at once; skipped (gunzip the file to read it)"))
        }
        guard let record = bytes(at: offset, count: recordSize) else {
            return truncation(needed: recordSize)
        }
        let start = offset
        let data = UnsafeRawBufferPointer(start: record.baseAddress! + TFRecord.headerSize, count: Int(length))
        offset += recordSize
        guard Self.dataVerifies(record, length: Int(length)) else {
            return .diagnostic(RecordDiagnostic(
                file: path, offset: start, problem: .badDataCRC,
                message: "the data of a \(length)-byte record does not match its CRC; the record was skipped"))
        }
        return .record(data, offset: start)
    }

    /// The file ends before `needed` bytes at `offset`: report it once (nothing when the file simply
    /// ends between records) and stay here, so a later call resumes when the file has grown.
    mutating func truncation(needed: Int) -> RecordStep? {
        if let gzip, let diagnostic = gzipEnd(gzip) { return .diagnostic(diagnostic) }
        let available = fileSize - offset
        guard available > 0, reportedTruncationAt != offset else { return nil }
        reportedTruncationAt = offset
        return .diagnostic(RecordDiagnostic(
            file: path, offset: offset, problem: .truncated,
            message: "the file ends \(available) bytes into a record that needs \(needed); a writer may still be writing it"))
    }

    /// Why a gzip file's decompressed data ends here, if it ends early: damaged compressed data or
    /// bytes that are not gzip (final: reported once, in place of the record they cut short), or
    /// compressed data that stops inside a member (once per place, as a truncation: the file may
    /// still be growing).
    mutating func gzipEnd(_ gzip: GzipInput) -> RecordDiagnostic? {
        let ends = gzip.decompressedCount
        let partial = ends > offset ? ", \(ends - offset) decompressed bytes into a record" : ""
        if let failure = gzip.failure {
            guard !reportedGzipFailure else { return nil }
            reportedGzipFailure = true
            reportedTruncationAt = offset
            let message = switch failure {
            case .damaged(let compressedOffset, let reason):
                "the compressed data is damaged at or before compressed byte \(compressedOffset) (\(reason))\(partial); every record before offset \(offset) of the decompressed data was read, and nothing after the damage can be recovered"
            case .trailingBytes(let compressedOffset):
                "the bytes from compressed byte \(compressedOffset) on follow the last gzip member but are not gzip\(partial); every record before offset \(offset) of the decompressed data was read, and those bytes were ignored"
            case .unavailable(let reason):
                "zlib could not decompress this file (\(reason)); nothing after offset \(offset) of the decompressed data was read"
            }
            return RecordDiagnostic(file: path, offset: offset, problem: .badCompression, message: message)
        }
        if gzip.endsInsideMember, reportedTruncationAt != offset {
            reportedTruncationAt = offset
            return RecordDiagnostic(
                file: path, offset: offset, problem: .truncated,
                message: "the gzip data ends inside a member at compressed byte \(gzip.compressedOffset)\(partial); the file was cut short or is still being written, and any records after this point are missing")
        }
        return nil
    }

    static func isGzip(_ prefix: UnsafeRawBufferPointer) -> Bool {
        // A TFRecord header that verifies is never taken for gzip, whatever its first bytes.
        if prefix.count >= TFRecord.headerSize,
           gradalert_crc32c_masked(prefix.baseAddress!, 8) == prefix.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian {
            return false
        }
        return GzipInput.isGzip(prefix)
    }

    /// Searches forward from `start + 1` for an offset where a whole record verifies and moves
    /// there. If none is found, stops at a header that verifies but whose data is not all in the
    /// file yet (a record still being written), or else at the end of the file.
    ///
    /// Every offset is looked at, in order, as the byte-by-byte search did, but a block at a time:
    /// one call of the C search (`gradalert_find_record_header`) covers all the bytes the reader
    /// holds from `candidate` on and returns the first header that verifies with a length that
    /// could be taken; only such headers are then checked whole, here. A call per offset ran at
    /// 60 MB/s, so one damaged multi-gigabyte file held up a whole scan for minutes.
    mutating func resynchronise(from start: Int, problem: RecordDiagnostic.Problem, what: String) -> RecordDiagnostic {
        let longest = UInt64(longestResumableLength)
        var candidate = start + 1
        var resumeAt: Int?
        while let block = searchBlock(at: candidate) {
            let found = gradalert_find_record_header(block.baseAddress!, block.count, longest)
            guard found < block.count else {
                // No header verifies at the block's first count - 11 offsets. A header at any of
                // the last 11 would run past the block: the next block starts with them.
                candidate += block.count - (TFRecord.headerSize - 1)
                continue
            }
            assert(gradalert_crc32c_masked(block.baseAddress! + found, 8)
                == block.loadUnaligned(fromByteOffset: found + 8, as: UInt32.self).littleEndian)
            candidate += found
            let length = block.loadUnaligned(fromByteOffset: found, as: UInt64.self).littleEndian
            // `block` is not used past this point: loading the record can move or replace the window.
            if resumes(at: candidate, length: length) {
                resumeAt = candidate
                break
            }
            candidate += 1
        }
        let end = resumeAt ?? Swift.max(fileSize, start)
        offset = end
        let skipped = end - start
        let outcome = resumeAt != nil
            ? "skipped \(skipped) bytes to the next intact record at offset \(end)"
            : "no intact record follows; skipped the remaining \(skipped) bytes"
        return RecordDiagnostic(file: path, offset: start, problem: problem, message: "\(what); \(outcome)")
    }

    /// Whether the search after damage stops at `candidate`, where a header that verifies claims
    /// `length` bytes: the whole record verifies, or its data is not all in the file yet (a record
    /// still being written).
    mutating func resumes(at candidate: Int, length: UInt64) -> Bool {
        guard length <= UInt64(EventFileReader.maximumRecordLength) else { return false }
        let recordSize = Int(length) + TFRecord.overhead
        if gzip != nil, recordSize > gzipRecordLimit {
            // Its data cannot be checked without holding it (in a gzip file the bytes always
            // exist), and a header can verify by chance: not taken for a record.
            return false
        }
        // The header verifies but its data is not all here yet: a record being written.
        guard let record = bytes(at: candidate, count: recordSize) else { return true }
        return Self.dataVerifies(record, length: Int(length))
    }

    /// The longest length `resumes(at:length:)` can accept. The C search passes over headers that
    /// claim more without returning them, and over most bytes without computing a CRC at all when
    /// this is below 4 GiB (as it always is); a bound that is too large would cost speed, not
    /// correctness, since `resumes` checks again.
    var longestResumableLength: Int {
        guard gzip != nil else { return EventFileReader.maximumRecordLength }
        let gzipLongest = gzipRecordLimit >= TFRecord.overhead ? gzipRecordLimit - TFRecord.overhead : 0
        return Swift.min(EventFileReader.maximumRecordLength, gzipLongest)
    }

    /// The bytes from `position` to the end of those the reader holds (the file's window, the gzip
    /// window, or the rest of the bytes in memory), loaded as reading a header at `position` would
    /// load them; nil if the file, as far as it goes now, ends before a header at `position` would.
    /// Valid until the next load. Only a header's 12 bytes are asked for, so no window grows past
    /// what reading a header needs, however many gigabytes of garbage are searched (a gzip window
    /// not at all), and windows are loaded where and when the byte-by-byte search loaded them.
    mutating func searchBlock(at position: Int) -> UnsafeRawBufferPointer? {
        guard bytes(at: position, count: TFRecord.headerSize) != nil else { return nil }
        // (A gzip file read from memory has both: its memory holds the compressed bytes.)
        if let gzip { return gzip.heldBytes(from: position) }
        if let memory { return UnsafeRawBufferPointer(rebasing: memory[position..<memory.count]) }
        return UnsafeRawBufferPointer(rebasing: window[(position - windowStart)..<windowCount])
    }

    static func dataVerifies(_ record: UnsafeRawBufferPointer, length: Int) -> Bool {
        let stored = record.loadUnaligned(fromByteOffset: TFRecord.headerSize + length, as: UInt32.self).littleEndian
        return gradalert_crc32c_masked(record.baseAddress! + TFRecord.headerSize, length) == stored
    }

    mutating func fileSizeNow() -> Int {
        if let gzip { return gzip.decompressedCount }
        if let memory { return memory.count }
        if let size = TensorBoardEvents.fileSize(of: descriptor) { fileSize = size }
        return fileSize
    }

    /// `count` bytes at file offset `position`, loading them into the window if needed; nil if the
    /// file does not (yet) hold them. The view is valid until the next call.
    mutating func bytes(at position: Int, count: Int) -> UnsafeRawBufferPointer? {
        // Most calls find the bytes in the window already (it is only ever loaded from a file).
        // (Compared without adding to `position`, which may be near Int.max after `skip(to:)`.)
        if position >= windowStart, count <= windowCount - (position - windowStart) {
            // (Checked just above, so built from the address rather than as a checked slice.)
            return UnsafeRawBufferPointer(start: window.baseAddress! + (position - windowStart), count: count)
        }
        if let gzip {
            guard position >= 0, count >= 0 else { return nil }
            let bytes = gzip.bytes(at: position, count: count)
            fileSize = gzip.decompressedCount
            return bytes
        }
        if let memory {
            guard position >= 0, count >= 0, position <= memory.count, count <= memory.count - position else { return nil }
            return UnsafeRawBufferPointer(rebasing: memory[position..<(position + count)])
        }
        guard position >= 0, count <= fileSizeNow() - position else { return nil }
        // Loaded from the 64-byte boundary at or before `position` into a window aligned to 64, so
        // the kernel's copy out of the page cache never writes 1-31 bytes past where it reads
        // (modulo 4 KiB): on the AMD EPYC here, `read` then copies 4x slower.
        let skew = position & (Self.windowAlignment - 1)
        let needed = skew + count
        if needed > window.count {
            // Only now, with the bytes known to exist, is the window grown to fit the record.
            window.deallocate()
            window = .allocate(byteCount: needed, alignment: Self.windowAlignment)
        }
        let loaded = preadFully(descriptor, into: window.baseAddress!, count: window.count, at: position - skew)
        windowStart = position - skew
        windowCount = loaded
        guard loaded >= needed else { return nil }
        return UnsafeRawBufferPointer(rebasing: window[skew..<needed])
    }

    /// The alignment of the window, in memory and of the file offset it is loaded from.
    static let windowAlignment = 64
}
