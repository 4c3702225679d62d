#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CGradAlertZlib

/// The decompressed bytes of a gzip-compressed event file (`gzip events.out.tfevents...`, or
/// several gzip members one after another, as `cat a.gz b.gz` makes), produced as they are read.
///
/// It keeps a window of decompressed bytes from the reader's current position on; bytes before
/// that position are dropped, so memory stays bounded by the window (grown only as far as a record
/// that has actually been decompressed needs). zlib checks each member's CRC-32 and length trailer.
/// Deflate data cannot be resynchronised after damage, so damaged compressed data ends the
/// readable part of the file: every record decompressed before it is still returned.
final class GzipInput {
    /// Why no more bytes will come, once known.
    enum Failure: Equatable {
        /// zlib rejected the compressed data (a bad code, distance or CRC-32/length trailer).
        case damaged(compressedOffset: Int, reason: String)
        /// Bytes after the last member that are not gzip (padding, or another format appended).
        case trailingBytes(compressedOffset: Int)
        /// zlib could not be started (out of memory, or a library that does not match its header).
        case unavailable(reason: String)
    }

    private(set) var failure: Failure?
    /// The compressed bytes zlib has consumed so far: the file offset decompression has reached.
    private(set) var compressedOffset = 0

    private var stream = z_stream()
    private let descriptor: Int32
    private let memory: UnsafeRawBufferPointer?
    /// Compressed bytes read from the file; zlib's `next_in`/`avail_in` point at the unconsumed ones.
    private var input: UnsafeMutableRawBufferPointer
    /// Inside a member whose end has not been seen (false between members and at the start).
    private var inMember = false
    private var initialised = false

    private(set) var window: UnsafeMutableRawBufferPointer
    /// The decompressed offset of `window[0]`, and how many decompressed bytes it holds.
    private(set) var windowStart = 0
    private(set) var windowCount = 0

    /// Reads from an open file descriptor (the caller closes it).
    init(descriptor: Int32, windowSize: Int) {
        self.descriptor = descriptor
        memory = nil
        input = .allocate(byteCount: 1 << 18, alignment: 16)
        window = .allocate(byteCount: Swift.max(windowSize, 64), alignment: 16)
        start()
    }

    /// Reads compressed bytes held in memory (the caller keeps them alive).
    init(memory: UnsafeRawBufferPointer, windowSize: Int) {
        descriptor = -1
        self.memory = memory
        input = .allocate(byteCount: 1, alignment: 16)
        window = .allocate(byteCount: Swift.max(windowSize, 64), alignment: 16)
        start()
    }

    deinit {
        if initialised { inflateEnd(&stream) }
        input.deallocate()
        window.deallocate()
    }

    /// Whether `prefix` (a file's first bytes) starts a gzip member: magic 1f 8b, method 8 (deflate).
    static func isGzip(_ prefix: UnsafeRawBufferPointer) -> Bool {
        prefix.count >= 3 && prefix[0] == 0x1f && prefix[1] == 0x8b && prefix[2] == 8
    }

    private func start() {
        // 16 + 15: a gzip wrapper (header and CRC-32/length trailer checked) around a 32 KiB window.
        let status = CGradAlertZlib_inflateInit2(&stream, 16 + MAX_WBITS)
        if status == Z_OK {
            initialised = true
        } else {
            failure = .unavailable(reason: "inflateInit2 returned \(status)\(status == Z_MEM_ERROR ? ": out of memory" : "")")
        }
    }

    /// The decompressed bytes `position ..< position + count`, decompressing as needed; nil when
    /// the data (as far as it goes now) ends first. Positions before the window are gone: a caller
    /// only moves forward.
    func bytes(at position: Int, count: Int) -> UnsafeRawBufferPointer? {
        guard position >= windowStart, count >= 0 else { return nil }
        // Compared without adding to `position`, which may be near Int.max after a skip.
        while windowCount - (position - windowStart) < count {
            // Drop what lies before `position`, then make room, then decompress more.
            let drop = Swift.min(position - windowStart, windowCount)
            if drop > 0 {
                let base = window.baseAddress!
                memmove(base, base + drop, windowCount - drop)
                windowStart += drop
                windowCount -= drop
            }
            if windowStart < position {
                // All of the window lay before `position`: decompress into it and drop again.
            } else if windowCount == window.count {
                // The record is larger than the window, and its first bytes are here: grow, by
                // doubling but never past the record (whose size the caller has bounded).
                let larger = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.min(window.count * 2, count), alignment: 16)
                larger.baseAddress!.copyMemory(from: window.baseAddress!, byteCount: windowCount)
                window.deallocate()
                window = larger
            }
            guard inflateMore() else { break }
        }
        guard count <= windowCount - (position - windowStart) else { return nil }
        let from = position - windowStart
        return UnsafeRawBufferPointer(rebasing: window[from..<(from + count)])
    }

    /// Every decompressed byte the window holds from `position` on, where `bytes(at:count:)` has
    /// just made bytes available: what the search after damage scans in one go, without asking
    /// for more and so without growing the window.
    func heldBytes(from position: Int) -> UnsafeRawBufferPointer {
        precondition(position >= windowStart && position - windowStart <= windowCount, "position not in the window")
        return UnsafeRawBufferPointer(rebasing: window[(position - windowStart)..<windowCount])
    }

    /// The decompressed size known so far (more may come).
    var decompressedCount: Int { windowStart + windowCount }

    /// Whether the compressed data stops inside a member (a file cut short, or still being written),
    /// or one or two bytes into the next one's header.
    var endsInsideMember: Bool { failure == nil && (inMember || stream.avail_in > 0) }

    /// Decompresses into the free end of the window; false when nothing more can come now.
    private func inflateMore() -> Bool {
        guard initialised, failure == nil else { return false }
        if stream.avail_in == 0, !refill() { return false }
        if !inMember {
            // A member starts with the gzip magic; anything else after a member is not gzip.
            // Fewer than 3 bytes: the next member's header may still be being written, if they
            // are the start of one; a stray newline or padding byte is not.
            if stream.avail_in < 3, !refill() || stream.avail_in < 3 {
                let next = UnsafeRawBufferPointer(start: stream.next_in, count: Int(stream.avail_in))
                if next.count >= 1, next[0] != 0x1f || (next.count == 2 && next[1] != 0x8b) {
                    failure = .trailingBytes(compressedOffset: compressedOffset)
                }
                return false
            }
            guard Self.isGzip(UnsafeRawBufferPointer(start: stream.next_in, count: Int(stream.avail_in))) else {
                failure = .trailingBytes(compressedOffset: compressedOffset)
                return false
            }
            inMember = true
        }
        let free = window.count - windowCount
        stream.next_out = window.baseAddress!.assumingMemoryBound(to: Bytef.self) + windowCount
        stream.avail_out = uInt(free)
        let available = Int(stream.avail_in)
        let status = inflate(&stream, Z_NO_FLUSH)
        compressedOffset += available - Int(stream.avail_in)
        windowCount += free - Int(stream.avail_out)
        switch status {
        case Z_OK:
            return true
        case Z_BUF_ERROR:
            // No progress without more input: the member goes on past the bytes read so far.
            return refill()
        case Z_STREAM_END:
            // The member's CRC-32 and length matched; another member may follow.
            inMember = false
            inflateReset(&stream)
            return true
        default:
            let reason = stream.msg.map { "zlib: " + String(cString: $0) } ?? "zlib error \(status)"
            failure = .damaged(compressedOffset: compressedOffset, reason: reason)
            return false
        }
    }

    /// Makes more compressed bytes available after the unconsumed ones; false when there are none
    /// now (the end of the file as it is).
    private func refill() -> Bool {
        let kept = Int(stream.avail_in)
        if let memory {
            let end = Swift.min(memory.count, compressedOffset + Int(UInt32.max))
            guard end > compressedOffset + kept else { return false }
            stream.next_in = UnsafeMutablePointer(mutating: memory.baseAddress!.assumingMemoryBound(to: Bytef.self)) + compressedOffset
            stream.avail_in = uInt(end - compressedOffset)
            return true
        }
        let base = input.baseAddress!
        if kept > 0, let next = stream.next_in { memmove(base, next, kept) }
        let loaded = kept + preadFully(descriptor, into: base + kept, count: input.count - kept, at: compressedOffset + kept)
        stream.next_in = base.assumingMemoryBound(to: Bytef.self)
        stream.avail_in = uInt(loaded)
        return loaded > kept
    }
}
