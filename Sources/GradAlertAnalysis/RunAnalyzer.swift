import Foundation
import GradientDetection
import TensorBoardEvents

/// One run — a folder of event files — split into streams and analysed: what `scan`, `watch` and
/// `export` share. `scan` reads each file once, in name order; `watch` calls `read(_:)` again
/// whenever a file may have grown, and `completeQuietStreams()` after each poll.
///
/// **Streams.** A file that starts after the data of a stream has ended continues that stream (a
/// restart, if its steps go back, starts a new segment); a file that starts while a stream was
/// still being written is a concurrent writer — a data-parallel rank — and is analysed as a stream
/// of its own, so ranks logging the same tags are not mistaken for restarts. A file joins a stream
/// when its first summary arrives (so a writer that has opened its file but not flushed yet is
/// never placed too early), by the wall time of its first record, when its writer opened it.
///
/// Files are not kept open between reads: each read opens the file, skips to where the last read
/// stopped and closes it again, so following thousands of files costs a few numbers per file.
public final class RunAnalyzer {
    public let name: String
    private let classifier: TagClassifier
    private let configuration: DetectorConfiguration
    private let detects: Bool

    /// Called with every point the detector is given, and the stream it belongs to (export).
    public var pointSink: ((StepAssembler.Point, Int) -> Void)?

    // MARK: - State

    private struct Stream {
        var analysis: StreamAnalysis
        /// The latest wall time read in it (its files' first records included).
        var lastWallTime = -Double.infinity
        /// Whether it received events since the last `completeQuietStreams()`.
        var touched = false
    }

    /// When a file's writer opened it: the wall time of its first record.
    private enum Start: Equatable {
        /// No whole first record yet (an empty file, or one whose writer is still writing it).
        case unknown
        case wallTime(Double)
        /// The first record is damaged (the file is read anyway, without a start time).
        case damaged
    }

    private struct FileState {
        /// Where the next read starts (in a gzip file, an offset in the decompressed data).
        var offset = 0
        /// The file's size on disk at the last read.
        var size = 0
        var start = Start.unknown
        /// Its stream, once its first summary has been read.
        var stream: Int?
    }

    private var streams: [Stream] = []
    private var files: [String: FileState] = [:]
    /// Every diagnostic of every file, in the order found.
    public private(set) var diagnostics: [RecordDiagnostic] = []
    public private(set) var fileCount = 0
    public private(set) var readableFiles = 0
    /// The files' sizes on disk, as last read.
    public private(set) var bytes = 0
    /// Records read from files before they joined a stream (their first records).
    private var unplacedRecords = 0

    /// Grows whenever the run changes (records read, a step judged): a caller that keeps derived
    /// state (metrics) can skip a run whose generation has not moved.
    public private(set) var generation = 0

    /// Intact records read so far (events of any kind).
    public var records: Int { unplacedRecords + streams.reduce(0) { $0 + $1.analysis.eventsConsumed } }

    public init(name: String, classifier: TagClassifier, configuration: DetectorConfiguration, detects: Bool = true) {
        self.name = name
        self.classifier = classifier
        self.configuration = configuration
        self.detects = detects
    }

    /// The streams found so far (at least 1 once any summary was read).
    public var streamCount: Int { streams.count }

    /// Stream `index` as it is now: its assembler holds the latest value of each series, its
    /// incidents and their events.
    public func stream(_ index: Int) -> StreamAnalysis { streams[index].analysis }

    /// How many alerts stream `stream` has raised; `alerts(of:from:)` gives them.
    public func alertCount(of stream: Int) -> Int { streams[stream].analysis.alertCount }

    /// The alerts of `stream` from the `start`-th on, in order.
    public func alerts(of stream: Int, from start: Int) -> [RunAlert] { streams[stream].analysis.alerts(from: start) }

    /// How many incident events stream `stream` has had; `events(of:from:)` gives them.
    public func eventCount(of stream: Int) -> Int { streams[stream].analysis.eventCount }

    /// The incident events of `stream` from the `start`-th on, in order.
    public func events(of stream: Int, from start: Int) -> [RunIncidentEvent] { streams[stream].analysis.events(from: start) }

    // MARK: - Reading

    /// Reads what is new in the event file at `path` (all of it, the first time). Returns false
    /// when there was nothing new (the file has not changed size since the last read).
    @discardableResult
    public func read(_ path: String) -> Bool {
        let size = LogDirectory.fileSize(path)
        var state: FileState
        var firstRead = false
        if let known = files[path] {
            guard size != known.size else { return false }
            state = known
        } else if let adopted = adoptCompressedCopy(path) {
            state = adopted
        } else {
            state = FileState()
            fileCount += 1
            firstRead = true
        }
        bytes += size - state.size
        state.size = size
        let reader = EventFileReader(path: path, bufferSize: Self.bufferSize(forUnread: size - state.offset))
        reader.skip(to: state.offset)
        let before = diagnostics.count
        if state.stream == nil { placeFile(reader, &state) }
        if let stream = state.stream {
            streams[stream].analysis.consume(reader, diagnostics: &diagnostics)
            streams[stream].touched = true
            if let last = streams[stream].analysis.lastWallTime {
                streams[stream].lastWallTime = max(streams[stream].lastWallTime, last)
            }
        }
        if firstRead, !diagnostics[before...].contains(where: { $0.problem == .unreadable }) { readableFiles += 1 }
        state.offset = reader.offset
        files[path] = state
        generation += 1
        return true
    }

    /// Reads `reader` up to the file's first summary event, learning when its writer opened it,
    /// and puts the file in a stream once that summary is there (feeding it that event).
    private func placeFile(_ reader: EventFileReader, _ state: inout FileState) {
        var placed: Int?
        while placed == nil, let _: Void = reader.withNextEvent({ entry in
            switch entry {
            case .diagnostic(let diagnostic):
                diagnostics.append(diagnostic)
                if state.start == .unknown, diagnostic.problem != .truncated { state.start = .damaged }
            case .event(let view, let offset):
                if state.start == .unknown { state.start = .wallTime(view.wallTime) }
                guard case .summary = view.content else {
                    unplacedRecords += 1
                    return
                }
                let stream = stream(for: state.start)
                placed = stream
                streams[stream].analysis.consume(.event(view, offset: offset), from: reader, diagnostics: &diagnostics)
            }
        }) {}
        guard let placed else { return }
        state.stream = placed
        if case .wallTime(let start) = state.start, start.isFinite {
            streams[placed].lastWallTime = max(streams[placed].lastWallTime, start)
        }
    }

    /// The stream a file that started at `start` continues: the first whose data ended by then
    /// (a damaged first record: the first stream); else a new one.
    private func stream(for start: Start) -> Int {
        let existing = streams.firstIndex { stream in
            switch start {
            case .wallTime(let time): stream.lastWallTime <= time
            case .damaged, .unknown: true
            }
        }
        if let existing { return existing }
        var analysis = StreamAnalysis(run: name, stream: streams.count, classifier: classifier, configuration: configuration, detects: detects)
        if let sink = pointSink {
            let stream = streams.count
            analysis.pointSink = { sink($0, stream) }
        }
        streams.append(Stream(analysis: analysis))
        return streams.count - 1
    }

    /// When `gzip NAME` has replaced a file being followed by `NAME.gz` (the original is gone and
    /// the copy's first record has the same wall time), the copy carries on where the original's
    /// reading stopped, in its stream, rather than being read again as a new writer.
    private func adoptCompressedCopy(_ path: String) -> FileState? {
        guard path.hasSuffix(".gz") else { return nil }
        let original = String(path.dropLast(3))
        guard let known = files[original], case .wallTime(let start) = known.start,
            !FileManager.default.fileExists(atPath: original), Self.firstWallTime(of: path) == start
        else { return nil }
        files[original] = nil
        bytes -= known.size
        var state = known
        state.size = 0
        return state
    }

    /// Judges the pending step of every stream that received nothing since the last call: the
    /// last step of a file being written may still be receiving values (a writer writes one tag
    /// at a time), so it is judged once a later step arrives, or once a whole poll brings nothing.
    public func completeQuietStreams() {
        for index in streams.indices {
            if !streams[index].touched, streams[index].analysis.completeStep() { generation += 1 }
            streams[index].touched = false
        }
    }

    /// A window big enough for what is unread, up to 1 MiB (small files, small windows).
    private static func bufferSize(forUnread bytes: Int) -> Int {
        max(64 * 1024, min(1 << 20, bytes + 64))
    }

    /// The wall time of a file's first record, if it is whole and intact.
    static func firstWallTime(of path: String) -> Double? {
        let reader = EventFileReader(path: path, bufferSize: 4096)
        if case .event(let event, _) = reader.next() { return event.wallTime }
        return nil
    }

    // MARK: - Results

    /// Judges every pending step and reports.
    public func finish() -> RunReport {
        for index in streams.indices { streams[index].analysis.completeStep() }
        return report()
    }

    /// What the run looks like now (pending steps not yet judged).
    public func report() -> RunReport {
        var alerts: [RunAlert] = []
        var incidents: [RunIncident] = []
        var gradientSeries: [String] = []
        var lossSeries: [String] = []
        var segments = 1
        for stream in streams {
            alerts += stream.analysis.judgedAlerts
            incidents += stream.analysis.judgedIncidents
            gradientSeries += stream.analysis.assembler.watchedGradientSeries.filter { !gradientSeries.contains($0) }
            lossSeries += stream.analysis.assembler.lossSeries.filter { !lossSeries.contains($0) }
            segments = max(segments, stream.analysis.assembler.segments)
        }
        if streams.count > 1 {
            alerts.sort { ($0.alert.step, $0.stream) < ($1.alert.step, $1.stream) }
            incidents.sort { ($0.incident.openingStep, $0.stream) < ($1.incident.openingStep, $1.stream) }
        }
        return RunReport(
            run: name, alerts: alerts, incidents: incidents, gradientSeries: gradientSeries, lossSeries: lossSeries,
            diagnostics: diagnostics, files: fileCount, readableFiles: readableFiles, bytes: bytes, records: records,
            segments: segments, streams: max(1, streams.count))
    }
}
