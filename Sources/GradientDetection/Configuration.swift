/// Every threshold of every rule. docs/detector.md gives the reason for each default.
public struct DetectorConfiguration: Sendable {
    public var spike = SpikeRule()
    public var cliffs = CliffsRule()
    public var growth = GrowthRule()
    public var vanishing = VanishingRule()
    public var collapse = CollapseRule()
    public var thresholds: [ThresholdRule] = []
    /// An episode closes after this many consecutive normal points (hysteresis), so a series that
    /// hovers at the edge alerts once, not on every other step.
    public var recoveryPoints = 5
    /// Apply the non-finite and spike rules to loss series as well.
    public var watchLoss = true

    public init() {}
}

/// A value far above the robust baseline (median and MAD, in log10 space) of the recent past.
public struct SpikeRule: Sendable {
    public var enabled = true
    /// How many previous finite values make the baseline.
    public var window = 50
    /// From this many previous values on, the full rule (robust z and ratio) applies.
    public var minHistory = 10
    /// Robust z-score in log10 space: (log v − median) / (1.4826·MAD).
    public var zScore = 6.0
    /// And the value must be at least this many times the baseline median.
    public var minRatio = 10.0
    /// And at least this many times the highest level the series has held as its baseline: after a
    /// norm has shrunk by orders of magnitude (the loss converged), a bounce back towards its old
    /// level is noise, not an explosion.
    public var minAboveCeiling = 1.0
    /// With fewer than `minHistory` previous values, only a jump of this many times the median so far counts...
    public var earlyMinRatio = 100.0
    /// ...or a jump of `minRatio` times it when a loss jumped at the same step by at least this
    /// factor over its own values so far: the first updates broke the model (Adam at a learning
    /// rate far too high). nil: the loss does not corroborate, only `earlyMinRatio` counts.
    public var earlyLossJump: Double? = 2
    /// A gradient norm at or above this is absurd at any step, even the first (a bad initialisation).
    public var absoluteBound: Double? = 1e6
    /// The smallest MAD used, in decades (0.05 ≈ ×1.12), so a nearly flat series does not turn every
    /// wiggle into an enormous z-score.
    public var madFloor = 0.05
    /// The episode closes once values are back under this many times the baseline.
    public var closeRatio = 3.0

    public init() {}
}

/// Repeated cliffs: a global gradient norm that jumps to `spike.minRatio` times its usual level
/// again and again. The usual level is the lower of the spike baseline's median and the median of
/// the series' first `startValues` values (a floor that rises with its cliffs does not hide them),
/// and a cliff must also reach the series' ceiling (the highest baseline median so far). Counted in
/// excursions — a value over the line after one that was not — within the last `spike.window`
/// values, so steady growth stays the growth rule's. Global norms only: one layer's dead units
/// flickering back to life are not an explosion.
public struct CliffsRule: Sendable {
    public var enabled = true
    /// Excursions within the window that make the series exploding.
    public var count = 2
    /// How many of the series' first values make its starting level.
    public var startValues = 20

    public init() {}
}

/// Sustained exponential growth: log10 of the value rising along a straight line over a window.
public struct GrowthRule: Sendable {
    public var enabled = true
    /// Consecutive finite values fitted.
    public var window = 20
    /// The fitted line must rise by at least this factor across the window.
    public var minFactor = 4.0
    /// Fraction of step-to-step changes that must be increases.
    public var minIncreasingFraction = 0.75
    /// Coefficient of determination of the fit: growth must be steady, not one jump.
    public var minFit = 0.8
    /// And the value must end this many times above the series' usual level (the spike baseline's
    /// median): a norm climbing back from a dip to where it usually is, is not exploding.
    public var minAboveBaseline = 2.0

    public init() {}
}

/// A gradient norm that stays under a floor.
public struct VanishingRule: Sendable {
    public var enabled = true
    public var floor = 1e-8
    /// Consecutive values under the floor before it alerts.
    public var window = 50

    public init() {}
}

/// A gradient norm that fell far below its own usual level and stays there while the loss makes
/// no progress. The usual level is the spike rule's ceiling (the highest median its baseline has
/// had), so this rule needs the spike rule on, and a loss series to judge progress by.
public struct CollapseRule: Sendable {
    public var enabled = true
    /// How far below the ceiling a value must be to count as collapsed, in decades (3: 1,000×).
    /// Exact zeros count too.
    public var decades = 3.0
    /// The last this many values are looked at...
    public var window = 50
    /// ...and at least this fraction of them (rounded up, at least one value) must have collapsed.
    public var fraction = 0.9
    /// The loss makes no progress when the median of its last `window` values is at least this
    /// fraction of the median of its first `window` values (every loss series, if several).
    public var lossProgress = 0.5

    public init() {}
}

/// A bound the user gives: a warning above `warning`, critical above `critical`.
public struct ThresholdRule: Sendable {
    /// The roles it applies to.
    public var roles: Set<SeriesRole>
    /// If set, only series with these names.
    public var series: Set<String>?
    public var warning: Double?
    public var critical: Double?

    public init(roles: Set<SeriesRole> = [.globalGradientNorm, .layerGradientNorm], series: Set<String>? = nil, warning: Double? = nil, critical: Double? = nil) {
        self.roles = roles
        self.series = series
        self.warning = warning
        self.critical = critical
    }
}
