/// What a rule found.
public enum AlertKind: String, Sendable, CaseIterable, Comparable {
    /// A NaN or ±Inf value (or a histogram whose min, max or sum is not finite).
    case nonfinite
    /// A value far above the robust baseline of the recent past (or at an absurd scale).
    case spike
    /// Sustained exponential growth over a window: the early warning.
    case growth
    /// Above a bound the user gave.
    case threshold
    /// A gradient norm that stays under a floor.
    case vanishing
    /// A gradient norm that fell orders of magnitude below its own usual level and stays there
    /// while the loss makes no progress: a layer that stopped learning (dead ReLUs after a bad
    /// update, a saturated layer).
    case collapse

    public static func < (lhs: AlertKind, rhs: AlertKind) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// True for the kinds that mean "exploding" (everything but vanishing and collapse).
    public var isExplosion: Bool { self != .vanishing && self != .collapse }
}

public enum Severity: String, Sendable, Comparable {
    case warning
    case critical

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs == .warning && rhs == .critical }
}

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
    /// The per-layer series that alerted first in this run-level episode, if known.
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

/// What a series measures; rules and remedies depend on it.
public enum SeriesRole: Sendable, Hashable {
    /// The norm of all gradients together (one number per step).
    case globalGradientNorm
    /// The gradient norm of one layer or parameter.
    case layerGradientNorm
    /// The largest |gradient| of a layer (spikes and non-finite values count; not part of a norm).
    case layerGradientMax
    /// A training loss.
    case loss

    public var isGradient: Bool { self != .loss }
    public var isLayer: Bool { self == .layerGradientNorm || self == .layerGradientMax }

    public var name: String {
        switch self {
        case .globalGradientNorm: "global gradient norm"
        case .layerGradientNorm: "layer gradient norm"
        case .layerGradientMax: "layer max |gradient|"
        case .loss: "loss"
        }
    }
}
