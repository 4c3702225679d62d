#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Foundation
import Synchronization

/// Writes one TensorBoard event file: scalars, histograms, text and images, in forms that
/// TensorBoard's Python event accumulator and its Rust data server both load.
///
/// Records are encoded straight into a buffer and written when the buffer passes
/// `Options.flushBytes`, at most `Options.flushInterval` after the first pending record, on
/// `flush()` and on `close()`. Only whole records ever stay in the file: if a write fails part-way
/// (a full disk), the records that reached the file whole are kept, the file is cut back to the
/// last of them, and the rest stay buffered and are written by the next flush — so when space
/// returns, writing carries on, and a crash or a full disk loses at most what was never flushed,
/// never the middle of a file. Safe to share between threads and tasks.
///
/// ```swift
/// let writer = try SummaryWriter(logdir: "runs/exp1")
/// try writer.scalar("loss", 0.25, step: 3)
/// try writer.histogram("grad/fc1.weight", values: gradients, step: 3)
/// try writer.close()
/// ```
public final class SummaryWriter: Sendable {
    public struct Options: Sendable {
        /// Write the buffer once it holds this many bytes.
        public var flushBytes: Int = 256 * 1024
        /// Write pending records at most this long after the first of them; nil: only by size,
        /// `flush()` and `close()`.
        public var flushInterval: Duration? = .seconds(2)
        /// fsync after every write, so records survive a power loss, not only a process crash.
        public var syncAfterFlush: Bool = false
        /// While writes keep failing, refuse new records once this many bytes are pending.
        public var maximumPendingBytes: Int = 64 * 1024 * 1024
        /// Appended to the file name (TensorBoard's `filename_suffix`).
        public var fileNameSuffix: String = ""

        public init() {}
    }

    /// The run directory this writer writes into.
    public let logdir: String
    /// The event file's full path.
    public let path: String
    private let options: Options
    private let state: Mutex<State>

    private struct State {
        var descriptor: Int32
        var buffer: [UInt8]
        var used = 0
        var committedLength = 0
        /// Where each buffered record ends, in `buffer` (ascending; the last is `used`).
        var recordEnds: [Int] = []
        var closed = false
        var timerArmed = false
        /// A failure of a background flush, reported by the next call.
        var deferredError: SummaryWriterError?
    }

    /// Creates `logdir` (and its parents) if needed, and a new event file in it whose first record
    /// is `file_version: "brain.Event:2"`, written at once.
    public init(logdir: String, options: Options = Options()) throws(SummaryWriterError) {
        if let failure = makeDirectories(logdir) {
            let doing: String
            if logdir.isEmpty {
                doing = "cannot create the log directory: the path is empty"
            } else if failure.code == ENOTDIR {
                doing = failure.at == logdir
                    ? "cannot create the log directory: a file of that name exists"
                    : "cannot create the log directory: \(failure.at) is a file, not a folder"
            } else {
                doing = failure.at == logdir ? "cannot create the log directory" : "cannot create the log directory (at \(failure.at))"
            }
            throw SummaryWriterError.system(.cannotCreateDirectory, path: logdir, code: failure.code, doing: doing)
        }
        let now = WallClock.now()
        var descriptor: Int32 = -1
        var path = ""
        for _ in 0..<1000 {
            let name = EventFileName.next(seconds: Int(now), suffix: options.fileNameSuffix)
            path = logdir.hasSuffix("/") ? logdir + name : logdir + "/" + name
            descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o644)
            if descriptor >= 0 || errno != EEXIST { break }
        }
        guard descriptor >= 0 else {
            throw .system(.cannotOpenFile, path: path, code: errno, doing: "cannot create the event file")
        }
        self.logdir = logdir
        self.path = path
        self.options = options
        let capacity = Swift.max(options.flushBytes, 4096) + 64 * 1024
        state = Mutex(State(descriptor: descriptor, buffer: [UInt8](repeating: 0, count: capacity)))

        let version = "brain.Event:2"
        let size = EventEncoding.fileVersionEventSize(version, wallTime: now)
        try append(payloadSize: size, allowTimer: false) { writer in
            EventEncoding.writeFileVersionEvent(&writer, version, wallTime: now)
        }
        try flush()
    }

    deinit {
        // Best effort: `close()` is the way to learn about a failure.
        state.withLock { state in
            if !state.closed {
                try? Self.writeBuffer(&state, path: path, sync: options.syncAfterFlush)
                _ = closeDescriptor(state.descriptor)
                state.closed = true
            }
        }
    }

    // MARK: - Summaries

    /// A scalar, stored as `simple_value` (a 32-bit float, as in every TensorBoard writer).
    public func scalar(_ tag: String, _ value: Double, step: Int, wallTime: Double? = nil) throws(SummaryWriterError) {
        try summary(tag, ScalarPayload(value: Float(value)), step: step, wallTime: wallTime)
    }

    /// A histogram of `values` in TensorFlow's default bucket layout; returns what was written
    /// (including the NaN/Inf counts, which are kept out of the buckets).
    @discardableResult
    public func histogram<C: Collection>(
        _ tag: String, values: C, step: Int, wallTime: Double? = nil
    ) throws(SummaryWriterError) -> HistogramSummary where C.Element: BinaryFloatingPoint {
        let summary = HistogramSummary(values: values)
        try histogram(tag, summary: summary, step: step, wallTime: wallTime)
        return summary
    }

    /// A histogram computed elsewhere (for example by GradientHooks, in one pass with the norms).
    public func histogram(_ tag: String, summary: HistogramSummary, step: Int, wallTime: Double? = nil) throws(SummaryWriterError) {
        try self.summary(tag, HistogramPayload(histogram: summary), step: step, wallTime: wallTime)
    }

    /// Markdown text, shown by TensorBoard's Text tab.
    public func text(_ tag: String, _ markdown: String, step: Int, wallTime: Double? = nil) throws(SummaryWriterError) {
        try summary(tag, TextPayload(text: markdown), step: step, wallTime: wallTime)
    }

    /// An image from 8-bit RGBA pixels (row-major, 4 bytes a pixel), stored as PNG.
    public func image(
        _ tag: String, rgba pixels: [UInt8], width: Int, height: Int, step: Int, wallTime: Double? = nil
    ) throws(SummaryWriterError) {
        let png: [UInt8]
        do {
            png = try PNG.encode(pixels: pixels, width: width, height: height, channels: 4)
        } catch {
            throw SummaryWriterError(.badImage, path: path, reason: "image '\(tag)': \(error)")
        }
        try image(tag, png: png, width: width, height: height, colorspace: 4, step: step, wallTime: wallTime)
    }

    /// An image that is already encoded (PNG, JPEG or GIF); `colorspace` is its channel count.
    public func image(
        _ tag: String, png: [UInt8], width: Int, height: Int, colorspace: Int = 4, step: Int, wallTime: Double? = nil
    ) throws(SummaryWriterError) {
        try summary(tag, ImagePayload(width: width, height: height, colorspace: colorspace, encoded: png), step: step, wallTime: wallTime)
    }

    private func summary(_ tag: String, _ payload: some SummaryPayload, step: Int, wallTime: Double?) throws(SummaryWriterError) {
        let time = wallTime ?? WallClock.now()
        let step = Int64(step)
        let sizes = EventEncoding.summarySizes(tag: tag, step: step, payload: payload)
        try append(payloadSize: sizes.event, allowTimer: true) { writer in
            EventEncoding.writeSummaryEvent(&writer, sizes: sizes, tag: tag, step: step, wallTime: time, payload: payload)
        }
    }

    // MARK: - Flushing

    /// Writes every buffered record to the file (and fsyncs, if the options say so).
    public func flush() throws(SummaryWriterError) {
        try state.withLock { state throws(SummaryWriterError) in
            if let error = state.deferredError {
                state.deferredError = nil
                if state.used == 0 { throw error }
            }
            guard !state.closed else { throw SummaryWriterError(.closed, path: path, reason: "the writer is closed") }
            try Self.writeBuffer(&state, path: path, sync: options.syncAfterFlush)
        }
    }

    /// Flushes and closes the file. Further calls throw `.closed`; closing twice is harmless. If
    /// the last flush fails the file is still closed, and the error says how much was not written.
    public func close() throws(SummaryWriterError) {
        try state.withLock { state throws(SummaryWriterError) in
            guard !state.closed else { return }
            state.closed = true
            var failure: SummaryWriterError?
            do throws(SummaryWriterError) {
                try Self.writeBuffer(&state, path: path, sync: options.syncAfterFlush, final: true)
            } catch {
                failure = error
            }
            if closeDescriptor(state.descriptor) != 0, failure == nil {
                failure = .system(.writeFailed, path: path, code: errno, doing: "close failed")
            }
            if let failure { throw failure }
        }
    }

    /// Bytes written to the file so far (records that reached the file, not the buffer).
    public var bytesWritten: Int { state.withLock { $0.committedLength } }

    /// Bytes encoded but not yet written.
    public var pendingBytes: Int { state.withLock { $0.used } }

    private func append(payloadSize: Int, allowTimer: Bool, body: (inout ProtoWriter) -> Void) throws(SummaryWriterError) {
        let frameSize = payloadSize + TFRecord.overhead
        let path = self.path
        let options = self.options
        let (armTimer, deferred) = try state.withLock { state throws(SummaryWriterError) -> (Bool, SummaryWriterError?) in
            guard !state.closed else { throw SummaryWriterError(.closed, path: path, reason: "the writer is closed") }
            // A timed flush that failed in the background is reported now, by this call — after
            // this record is buffered, as the failed ones stay: the caller loses nothing by it.
            let deferred = state.deferredError
            state.deferredError = nil
            if state.used + frameSize > state.buffer.count {
                if state.used > 0 {
                    do throws(SummaryWriterError) {
                        try Self.writeBuffer(&state, path: path, sync: options.syncAfterFlush)
                    } catch {
                        guard state.used + frameSize <= options.maximumPendingBytes else {
                            var refused = error
                            refused.kind = .bufferFull
                            refused.reason += "; this record was not accepted (\(state.used) bytes pending)"
                            throw refused
                        }
                    }
                }
                if state.used + frameSize > state.buffer.count {
                    state.buffer.append(contentsOf: repeatElement(0, count: state.used + frameSize - state.buffer.count))
                }
            }
            let offset = state.used
            state.buffer.withUnsafeMutableBufferPointer { storage in
                TFRecord.frame(into: storage.baseAddress! + offset, payloadSize: payloadSize, body: body)
            }
            state.used += frameSize
            state.recordEnds.append(state.used)
            if state.used >= options.flushBytes {
                try Self.writeBuffer(&state, path: path, sync: options.syncAfterFlush)
            }
            if allowTimer, state.used > 0, !state.timerArmed, options.flushInterval != nil {
                state.timerArmed = true
                return (true, deferred)
            }
            return (false, deferred)
        }
        if armTimer, let interval = options.flushInterval {
            let nanoseconds = interval.components.seconds * 1_000_000_000 + interval.components.attoseconds / 1_000_000_000
            DispatchQueue.global(qos: .utility).asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) { [weak self] in
                self?.timedFlush()
            }
        }
        if let deferred { throw deferred }
    }

    private func timedFlush() {
        state.withLock { state in
            state.timerArmed = false
            guard !state.closed, state.used > 0 else { return }
            do throws(SummaryWriterError) {
                try Self.writeBuffer(&state, path: path, sync: options.syncAfterFlush)
            } catch {
                state.deferredError = error
            }
        }
    }

    /// Writes `state.buffer[0..<used]` at the end of the file. If the write fails part-way, the
    /// records that reached the file whole are kept (the file is cut back to the last of them) and
    /// the rest stay buffered, to be written by the next call; `final` (at `close()`) says instead
    /// that they are lost.
    private static func writeBuffer(_ state: inout State, path: String, sync: Bool, final: Bool = false) throws(SummaryWriterError) {
        guard state.used > 0 else { return }
        let used = state.used
        let descriptor = state.descriptor
        var written = 0
        var failure: Int32 = 0
        state.buffer.withUnsafeBytes { bytes in
            while written < used {
                let result = write(descriptor, bytes.baseAddress! + written, used - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                if result == 0 {
                    failure = EIO
                    return
                }
                written += result
            }
        }
        guard failure != 0 else {
            state.committedLength += used
            state.used = 0
            state.recordEnds.removeAll(keepingCapacity: true)
            if sync, fsync(descriptor) != 0 {
                throw .system(.syncFailed, path: path, code: errno, doing: "fsync failed")
            }
            return
        }
        var error = SummaryWriterError.system(.writeFailed, path: path, code: failure, doing: "write failed")
        // Keep the records that reached the file whole; cut off the one the failure split.
        let whole = state.recordEnds.lastIndex { $0 <= written }.map { $0 + 1 } ?? 0
        let kept = whole > 0 ? state.recordEnds[whole - 1] : 0
        if written > kept, ftruncate(descriptor, off_t(state.committedLength + kept)) != 0 {
            error.reason += "; cutting back the partial record also failed (errno \(errno))"
        }
        state.committedLength += kept
        if kept > 0 {
            state.buffer.withUnsafeMutableBytes { bytes in
                bytes.baseAddress!.copyMemory(from: bytes.baseAddress! + kept, byteCount: used - kept)
            }
            state.used -= kept
            state.recordEnds.removeFirst(whole)
            for index in state.recordEnds.indices { state.recordEnds[index] -= kept }
        }
        let pending = state.recordEnds.count
        var outcome = whole > 0 ? "\(whole) of \(whole + pending) buffered records were written; " : ""
        if final {
            outcome += "the other \(pending) (\(state.used) bytes) could not be written and are lost"
        } else {
            outcome += "the other \(pending) (\(state.used) bytes) stay buffered and are written by the next flush"
        }
        error.reason += "; " + outcome
        throw error
    }
}
