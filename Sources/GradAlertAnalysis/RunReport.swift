import GradientDetection
import TensorBoardEvents

/// The verdict and findings for one run.
public struct RunReport: Sendable {
    public var run: String
    /// Every alert of every stream, by step (then stream).
    public var alerts: [RunAlert]
    /// The gradient series the detector watched, and the loss series.
    public var gradientSeries: [String]
    public var lossSeries: [String]
    public var diagnostics: [RecordDiagnostic]
    public var files: Int
    public var readableFiles: Int
    public var bytes: Int
    /// The most segments any stream had (a restart starts a new one).
    public var segments: Int
    /// Files written at the same time (data-parallel ranks) are read as separate streams.
    public var streams: Int

    public init(
        run: String, alerts: [RunAlert] = [], gradientSeries: [String] = [], lossSeries: [String] = [],
        diagnostics: [RecordDiagnostic] = [], files: Int = 0, readableFiles: Int = 0, bytes: Int = 0,
        segments: Int = 1, streams: Int = 1
    ) {
        self.run = run
        self.alerts = alerts
        self.gradientSeries = gradientSeries
        self.lossSeries = lossSeries
        self.diagnostics = diagnostics
        self.files = files
        self.readableFiles = readableFiles
        self.bytes = bytes
        self.segments = segments
        self.streams = streams
    }

    public enum Verdict: String, Sendable, Comparable {
        case healthy, warning, exploding, nonfinite

        public static func < (lhs: Verdict, rhs: Verdict) -> Bool {
            let order: [Verdict] = [.healthy, .warning, .exploding, .nonfinite]
            return order.firstIndex(of: lhs)! < order.firstIndex(of: rhs)!
        }
    }

    /// nonfinite if any non-finite alert, else exploding if any critical, else warning if any
    /// alert, else healthy.
    public var verdict: Verdict {
        if alerts.contains(where: { $0.alert.kind == .nonfinite }) { return .nonfinite }
        if alerts.contains(where: { $0.alert.severity == .critical }) { return .exploding }
        return alerts.isEmpty ? .healthy : .warning
    }

    public var firstAlert: RunAlert? { alerts.first }

    /// The first layer to alert, in the first episode that names one.
    public var origin: String? { alerts.lazy.compactMap(\.alert.origin).first }

    public var maxSeverity: Severity? { alerts.map(\.alert.severity).max() }
}
