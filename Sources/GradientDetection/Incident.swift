/// What a person acts on: one explosion (or collapse) of one run — the alerts of its series that
/// overlap in time, from the first until every series has been normal again for a while — with
/// where it started, how bad it got, how many layers took part and what to try, once. The alerts
/// are its evidence.
public struct Incident: Sendable, Equatable {
    /// The segment of the run it happened in (a restart starts a new one).
    public var segment: Int
    public var openingStep: Int64
    public var openingWallTime: Double?
    /// The step at which the last abnormal series had been normal long enough, or the last step of
    /// its segment when a restart ended it; nil while it is open.
    public var closingStep: Int64?
    /// The highest severity so far (an incident that becomes critical has escalated).
    public var severity: Severity
    /// The kinds of its alerts, in `AlertKind` order.
    public var kinds: [AlertKind]
    /// The per-layer norm series that alerted first (ties: the largest ratio); nil when only
    /// global, max or loss series alerted.
    public var origin: String?
    /// The gradient series that alerted, in the order they first did.
    public var gradientSeries: [String]
    /// The largest finite gradient norm seen while it was open (the global norm when the run has
    /// one), and that series.
    public var peakValue: Double?
    public var peakSeries: String?
    /// The largest ratio of its gradient spike and cliffs alerts over a measured baseline (not over
    /// a bound the user chose, nor a growth's factor, nor the loss's jump).
    public var peakRatio: Double?
    /// The first step at which a gradient or the loss was NaN or infinite, if any was.
    public var firstNonfiniteStep: Int64?
    /// Whether a loss series alerted before any gradient series did.
    public var lossBrokeFirst: Bool
    /// What to try, most likely first: the advice of its most severe alerts, each remedy once.
    public var remedies: [Remedy]
    /// Every alert of the incident, in order.
    public var alerts: [Alert]

    public init(segment: Int, openingStep: Int64, openingWallTime: Double?, severity: Severity) {
        self.segment = segment
        self.openingStep = openingStep
        self.openingWallTime = openingWallTime
        self.severity = severity
        kinds = []
        gradientSeries = []
        lossBrokeFirst = false
        remedies = []
        alerts = []
    }

    public var isOpen: Bool { closingStep == nil }

    /// The layer the origin series measures: its tag without the leading metric words
    /// (`train/grad_norm/conv1.weight` → `conv1.weight`).
    public var originLayer: String? { origin.map(Self.layerName) }

    /// How many per-layer gradient series took part (the global norm not counted).
    public var layerCount: Int { Set(alerts.filter { $0.role == .layerGradientNorm || $0.role == .layerGradientMax }.map(\.series)).count }

    /// A tag without its leading metric path components: `grad_norm/fc1` → `fc1`,
    /// `gradients/layer1/kernel_norm` → `layer1/kernel_norm`.
    public static func layerName(_ tag: String) -> String {
        let metricWords: Set<String> = ["train", "training", "val", "eval", "valid", "test"]
        var parts = tag.split(separator: "/", omittingEmptySubsequences: false)
        while parts.count > 1 {
            let lower = parts[0].lowercased()
            guard metricWords.contains(lower) || lower.contains("grad") || lower.contains("norm") else { break }
            parts.removeFirst()
        }
        return parts.joined(separator: "/")
    }

    // MARK: - Building

    /// Adds one step's alerts (already carrying the origin the detector knows).
    mutating func add(_ raised: [Alert], origin: String?) {
        self.origin = origin
        for alert in raised {
            alerts.append(alert)
            if !kinds.contains(alert.kind) { kinds = (kinds + [alert.kind]).sorted() }
            if alert.severity > severity { severity = alert.severity }
            if alert.role.isGradient, !gradientSeries.contains(alert.series) { gradientSeries.append(alert.series) }
            if alert.kind == .nonfinite, firstNonfiniteStep == nil { firstNonfiniteStep = alert.step }
            // Over a measured baseline only: a threshold's or the absolute bound's ratio is to a
            // number the user chose (a millionfold explosion would read as "1.2x"), and a growth
            // alert's ratio is its factor over a window.
            // And a gradient's only: the loss's jump is in the headline, and quoted beside the
            // gradient norm's peak it would read as the gradients'.
            if let ratio = alert.ratio, ratio.isFinite, alert.baseline != nil, alert.role.isGradient, [.spike, .cliffs].contains(alert.kind) {
                peakRatio = max(peakRatio ?? ratio, ratio)
            }
        }
        let firstLoss = alerts.first { $0.role == .loss }?.step
        let firstGradient = alerts.first { $0.role.isGradient }?.step
        lossBrokeFirst = firstLoss.map { loss in firstGradient.map { loss < $0 } ?? true } ?? false
        remedies = Self.rank(alerts)
    }

    /// Notes a gradient norm seen while the incident is open.
    mutating func notePeak(_ value: Double, series: String) {
        guard value.isFinite, value > (peakValue ?? -.infinity) else { return }
        peakValue = value
        peakSeries = series
    }

    /// The remedies of the most severe alerts first (then the earliest), each once, at most five.
    private static func rank(_ alerts: [Alert]) -> [Remedy] {
        let ordered = alerts.enumerated().sorted { a, b in
            a.element.severity != b.element.severity ? a.element.severity > b.element.severity : a.offset < b.offset
        }
        var remedies: [Remedy] = []
        for (_, alert) in ordered {
            for remedy in alert.remedies where !remedies.contains(remedy) { remedies.append(remedy) }
        }
        return Array(remedies.prefix(5))
    }
}

/// A change in an incident: it opened, escalated (became critical, or first went non-finite), or
/// closed.
public struct IncidentEvent: Sendable, Equatable {
    public enum Change: String, Sendable, CaseIterable {
        case opened, escalated, closed
    }

    public var change: Change
    /// The step the change happened at.
    public var step: Int64
    /// The incident as it was right after the change.
    public var incident: Incident

    public init(change: Change, step: Int64, incident: Incident) {
        self.change = change
        self.step = step
        self.incident = incident
    }
}
