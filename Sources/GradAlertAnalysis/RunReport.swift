import GradientDetection
import TensorBoardEvents

/// The verdict and findings for one run.
public struct RunReport: Sendable {
    public var run: String
    /// Every alert of every stream, by step (then stream).
    public var alerts: [RunAlert]
    /// Every incident of every stream, by opening step (then stream).
    public var incidents: [RunIncident]
    /// The gradient series the detector watched, and the loss series.
    public var gradientSeries: [String]
    public var lossSeries: [String]
    public var diagnostics: [RecordDiagnostic]
    public var files: Int
    public var readableFiles: Int
    public var bytes: Int
    /// Intact records read (events of any kind).
    public var records: Int
    /// The most segments any stream had (a restart starts a new one).
    public var segments: Int
    /// Files written at the same time (data-parallel ranks) are read as separate streams.
    public var streams: Int

    public init(
        run: String, alerts: [RunAlert] = [], incidents: [RunIncident] = [], gradientSeries: [String] = [],
        lossSeries: [String] = [], diagnostics: [RecordDiagnostic] = [], files: Int = 0, readableFiles: Int = 0,
        bytes: Int = 0, records: Int = 0, segments: Int = 1, streams: Int = 1
    ) {
        self.run = run
        self.alerts = alerts
        self.incidents = incidents
        self.gradientSeries = gradientSeries
        self.lossSeries = lossSeries
        self.diagnostics = diagnostics
        self.files = files
        self.readableFiles = readableFiles
        self.bytes = bytes
        self.records = records
        self.segments = segments
        self.streams = streams
    }

    public enum Verdict: String, Sendable, Comparable, CaseIterable {
        /// Nothing could be judged: no intact record, or no gradient or loss series at all.
        case noData = "no_data"
        case healthy, warning, exploding, nonfinite

        public static func < (lhs: Verdict, rhs: Verdict) -> Bool {
            allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
        }
    }

    /// nonfinite if any non-finite alert, else exploding if any critical, else warning if any
    /// alert; else no_data when nothing could be judged, else healthy.
    public var verdict: Verdict {
        if alerts.contains(where: { $0.alert.kind == .nonfinite }) { return .nonfinite }
        if alerts.contains(where: { $0.alert.severity == .critical }) { return .exploding }
        if !alerts.isEmpty { return .warning }
        return noDataReason == nil ? .healthy : .noData
    }

    /// Why nothing could be judged (nil when something could): one line for people.
    public var noDataReason: String? {
        guard gradientSeries.isEmpty && lossSeries.isEmpty else { return nil }
        if files == 0 { return "no event files" }
        if readableFiles == 0 { return "none of its \(files) file\(files == 1 ? "" : "s") could be opened" }
        if records == 0 {
            if diagnostics.isEmpty { return "its \(files == 1 ? "file is" : "\(files) files are") empty" }
            var reason = "no intact record in \(files == 1 ? "its file" : "its \(files) files") (\(diagnostics.count) damaged spot\(diagnostics.count == 1 ? "" : "s"))"
            // A file given by name that is not named like an event file is more likely something else.
            let names = Set(diagnostics.map { String($0.file.split(separator: "/").last ?? "") })
            if let name = names.sorted().first, !names.contains(where: LogDirectory.isEventFileName) {
                reason += "; \(name) is not named like an event file (events.out.tfevents.*): is it one?"
            }
            return reason
        }
        return "no gradient or loss series: none of its tags matches --grad-tags or --loss-tags"
    }

    public var firstAlert: RunAlert? { alerts.first }

    /// The first layer to alert, in the first incident that names one.
    public var origin: String? { incidents.lazy.compactMap(\.incident.origin).first }

    public var maxSeverity: Severity? { alerts.map(\.alert.severity).max() }
}
