import GradientDetection
import TensorBoardEvents

/// One stream of a run — the files one writer wrote, one after another — turned into series and
/// judged: each event's values are classified by tag and handed to a `StepAssembler`, the same one
/// `GradientMonitor` uses live. Events are consumed as they are read: nothing is kept per point, so
/// memory does not grow with the size of the log. A value type: a scan feeds it through one
/// mutating call per file, so its state is not re-checked for exclusive access on every field.
///
/// `RunAnalyzer` splits a run's files into streams and owns one of these per stream; use it
/// directly to analyse one file or a sequence of events.
public struct StreamAnalysis {
    public let run: String
    /// Which concurrent writer (data-parallel rank) of the run this is; 0 when there is one.
    public let stream: Int
    private let classifier: TagClassifier

    // MARK: - State

    /// Steps, segments, which series the detector sees, and the detector.
    public private(set) var assembler: StepAssembler
    /// Every tag seen, by index, with what it is; `tagIndex` finds a tag's index from its bytes with
    /// one hash.
    private var tags: [TagState] = []
    private var tagIndex = TagTable()
    /// Reused: one record's points (the first `recordCount`).
    private var recordPoints: [(series: StepAssembler.SeriesID, value: Double)] = []
    private var recordCount = 0

    private struct TagState {
        let kind: Classification
        /// Its series in the assembler (nil for ignored tags).
        let series: StepAssembler.SeriesID?
    }

    private enum Classification: Equatable {
        case scalar(SeriesRole)
        case gradientHistogram
        case ignored
    }

    /// Events read so far (of any kind), and of which summary events (the ones with values).
    public private(set) var eventsConsumed = 0
    public private(set) var summaryEventsConsumed = 0
    /// The latest wall time of any event read.
    public private(set) var lastWallTime: Double?

    public init(run: String, stream: Int = 0, classifier: TagClassifier, configuration: DetectorConfiguration, detects: Bool = true) {
        self.run = run
        self.stream = stream
        self.classifier = classifier
        assembler = StepAssembler(configuration: configuration, detects: detects)
    }

    /// How many alerts this stream has raised so far.
    public var alertCount: Int { assembler.alerts.count }

    /// The alerts from the `start`-th on (the ones raised since a caller last looked), in order.
    public func alerts(from start: Int = 0) -> [RunAlert] {
        guard start < assembler.alerts.count else { return [] }
        let incidents = assembler.incidents
        return assembler.alerts[min(start, assembler.alerts.count)...].map {
            RunAlert(alert: $0.alert, segment: $0.segment, superseded: false, stream: stream, incident: incidentID(incidents[$0.incident]))
        }
    }

    /// How many incident events (opened, escalated, closed) this stream has had so far.
    public var eventCount: Int { assembler.events.count }

    /// The incident events from the `start`-th on, in order.
    public func events(from start: Int = 0) -> [RunIncidentEvent] {
        guard start < assembler.events.count else { return [] }
        return assembler.events[start...].map {
            RunIncidentEvent(change: $0.change, step: $0.step, incident: RunIncident(run: run, stream: stream, superseded: false, incident: $0.incident))
        }
    }

    private func incidentID(_ incident: Incident) -> String {
        RunIncident.id(run: run, stream: stream, segment: incident.segment, openingStep: incident.openingStep)
    }

    /// Called with every point the detector is given (for `gradalert export`).
    public var pointSink: ((StepAssembler.Point) -> Void)? {
        get { assembler.pointSink }
        set { assembler.pointSink = newValue }
    }

    // MARK: - Feeding

    /// Reads a whole file (or what is new in it), adding what is wrong in it to `diagnostics`.
    /// Events are read in place (`EventFileReader.withNextEvent`): only the tags and the values the
    /// series need are decoded, and nothing is allocated per record.
    public mutating func consume(_ reader: EventFileReader, diagnostics: inout [RecordDiagnostic]) {
        while let _: Void = reader.withNextEvent({ entry in consume(entry, from: reader, diagnostics: &diagnostics) }) {}
    }

    /// Takes one entry of `reader` (a diagnostic, or an event read in place).
    mutating func consume(_ entry: EventFileReader.ViewEntry, from reader: EventFileReader, diagnostics: inout [RecordDiagnostic]) {
        switch entry {
        case .diagnostic(let diagnostic): diagnostics.append(diagnostic)
        case .event(let view, let offset):
            do throws(WireError) {
                try feed(view)
            } catch {
                diagnostics.append(reader.malformed(at: offset, length: view.byteCount, error))
            }
        }
    }

    /// Adds one decoded event's values to the series.
    public mutating func feed(_ event: Event) {
        noteEvent(wallTime: event.wallTime)
        guard case .summary(let values) = event.content else { return }
        summaryEventsConsumed += 1
        recordCount = 0
        for value in values {
            var tag = value.tag
            let index = tag.withUTF8 { tagIndex.find(UnsafeRawBufferPointer($0)) } ?? addTag(value.tag, classify(value))
            if let series = tags[index].series, let number = point(for: value, kind: tags[index].kind) {
                addRecordPoint(series, number)
            }
        }
        addRecord(step: event.step, wallTime: event.wallTime)
    }

    /// Adds one event read in place. Throws, having added nothing, when a value it needs is malformed.
    mutating func feed(_ event: EventView) throws(WireError) {
        noteEvent(wallTime: event.wallTime)
        guard case .summary = event.content else { return }
        summaryEventsConsumed += 1
        recordCount = 0
        var values = event.values
        while let value = try values.next() {
            let index: Int
            if let known = tagIndex.find(value.tagBytes) {
                index = known
            } else {
                // First sight of a tag: decode the value once to learn what it is.
                let decoded = try value.decode()
                index = addTag(decoded.tag, classify(decoded))
            }
            if let series = tags[index].series, let number = try point(for: value, kind: tags[index].kind) {
                addRecordPoint(series, number)
            }
        }
        addRecord(step: event.step, wallTime: event.wallTime)
    }

    /// Judges the pending step (when the data has nothing more for now, or at its end); returns
    /// whether there was one.
    @discardableResult
    public mutating func completeStep() -> Bool {
        assembler.completeStep()
    }

    private mutating func addRecordPoint(_ series: StepAssembler.SeriesID, _ value: Double) {
        if recordCount < recordPoints.count {
            recordPoints[recordCount] = (series, value)
        } else {
            recordPoints.append((series, value))
        }
        recordCount += 1
    }

    private mutating func noteEvent(wallTime: Double) {
        eventsConsumed += 1
        if wallTime.isFinite { lastWallTime = max(lastWallTime ?? wallTime, wallTime) }
    }

    /// Hands the points of one record (in `recordPoints`) to the assembler.
    private mutating func addRecord(step: Int64, wallTime: Double) {
        for (series, value) in recordPoints[..<recordCount] {
            assembler.add(series, value, step: step, wallTime: wallTime)
        }
    }

    // MARK: - Tags

    private mutating func addTag(_ name: String, _ kind: Classification) -> Int {
        let series: StepAssembler.SeriesID? = switch kind {
        case .scalar(let role): assembler.series(name, kind: .scalar(role))
        case .gradientHistogram: assembler.series(name, kind: .histogramNorm)
        case .ignored: nil
        }
        let index = tags.count
        tags.append(TagState(kind: kind, series: series))
        var key = name
        key.withUTF8 { tagIndex.insert(UnsafeRawBufferPointer($0), index: index) }
        return index
    }

    /// What a tag is, decided the first time it is seen.
    private func classify(_ value: SummaryValue) -> Classification {
        switch value.value {
        case .scalar:
            switch classifier.classifyScalar(value.tag) {
            // A layer's max |g| moves with its norm; watching both would raise every alert twice.
            case .gradient(.layerGradientMax): return .ignored
            case .gradient(let role): return .scalar(role)
            case .loss: return .scalar(.loss)
            case .ignored: return .ignored
            }
        case .histogram, .bucketHistogram:
            return classifier.isGradientHistogram(value.tag) ? .gradientHistogram : .ignored
        default:
            return .ignored
        }
    }

    /// The number a decoded value contributes to its series, if any.
    private func point(for value: SummaryValue, kind: Classification) -> Double? {
        switch (kind, value.value) {
        case (.scalar, .scalar(let number)): number
        case (.gradientHistogram, .histogram(let histogram)):
            Self.norm(min: histogram.min, max: histogram.max, sum: histogram.sum, sumSquares: histogram.sumSquares)
        case (.gradientHistogram, .bucketHistogram(let histogram)): Self.norm(histogram)
        default: nil
        }
    }

    /// As above, for a value read in place: scalars and legacy histograms without decoding more.
    private func point(for value: SummaryValueView, kind: Classification) throws(WireError) -> Double? {
        switch kind {
        case .ignored: return nil
        case .scalar: return try value.scalar()
        case .gradientHistogram:
            if let moments = try value.histogramMoments() {
                return Self.norm(min: moments.min, max: moments.max, sum: moments.sum, sumSquares: moments.sumSquares)
            }
            if case .bucketHistogram(let histogram) = try value.decode().value { return Self.norm(histogram) }
            return nil
        }
    }

    /// A legacy histogram's norm, sqrt(sum of squares); a non-finite min, max or sum makes it non-finite.
    private static func norm(min: Double, max: Double, sum: Double, sumSquares: Double) -> Double {
        if !min.isFinite || !max.isFinite || !sum.isFinite { return sum.isNaN ? .nan : .infinity }
        return sumSquares.squareRoot()
    }

    /// TF2 histograms carry no sum of squares: estimate it from the bucket centres.
    private static func norm(_ histogram: BucketHistogram) -> Double {
        let edgesFinite = zip(histogram.leftEdges, histogram.rightEdges).allSatisfy { $0.isFinite && $1.isFinite }
        return edgesFinite ? histogram.estimatedSumSquares.squareRoot() : Double.infinity
    }

    // MARK: - Results

    /// This stream's alerts, with the ones a later segment rewrote marked `superseded`.
    public var judgedAlerts: [RunAlert] {
        let incidents = assembler.incidents
        return assembler.alerts.map { alert in
            RunAlert(alert: alert.alert, segment: alert.segment, superseded: assembler.isOverwritten(alert), stream: stream,
                     incident: incidentID(incidents[alert.incident]))
        }
    }

    /// This stream's incidents, with the ones whose opening step a later segment rewrote marked
    /// `superseded`.
    public var judgedIncidents: [RunIncident] {
        assembler.incidents.map { incident in
            let superseded = incident.alerts.first.map {
                assembler.isOverwritten(step: $0.step, series: $0.series, segment: incident.segment)
            } ?? false
            return RunIncident(run: run, stream: stream, superseded: superseded, incident: incident)
        }
    }
}
