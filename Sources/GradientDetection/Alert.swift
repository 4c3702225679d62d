/// One alert: an episode opening on one series.
public struct Alert: Sendable, Equatable {
    public var kind: AlertKind
    public var severity: Severity
    /// The series' name (its tag).
    public var series: String
    public var role: SeriesRole
    public var step: Int64
    public var wallTime: Double?
    public var value: Double
    /// The robust baseline the value was compared with (the median of recent values), if any.
    public var baseline: Double?
    /// value / baseline (or value / bound), if defined.
    public var ratio: Double?
    /// The per-layer series that had alerted first in this run-level episode when this alert was
    /// raised (this step's alerts included), if any had. Known at the moment of the alert, so the
    /// live monitor and a later scan of its files name the same origin.
    public var origin: String?
    /// Remedies most likely to help, most likely first.
    public var remedies: [Remedy]
    /// One sentence that says what happened, in numbers.
    public var message: String

    public init(
        kind: AlertKind, severity: Severity, series: String, role: SeriesRole, step: Int64, wallTime: Double?,
        value: Double, baseline: Double?, ratio: Double?, origin: String? = nil, remedies: [Remedy] = [],
        message: String
    ) {
        self.kind = kind
        self.severity = severity
        self.series = series
        self.role = role
        self.step = step
        self.wallTime = wallTime
        self.value = value
        self.baseline = baseline
        self.ratio = ratio
        self.origin = origin
        self.remedies = remedies
        self.message = message
    }
}
