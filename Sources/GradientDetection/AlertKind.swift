/// What a rule found.
public enum AlertKind: String, Sendable, CaseIterable, Comparable {
    /// A NaN or ±Inf value (or a histogram whose min, max or sum is not finite).
    case nonfinite
    /// A value far above the robust baseline of the recent past (or at an absurd scale).
    case spike
    /// A global norm that keeps jumping to 10x its usual level, however noisy it is: the classic
    /// exploding-gradient cliffs of a recurrent net, which clipping hides from the loss.
    case cliffs
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

/// How urgent an alert is: a warning (look soon) or critical (the run is breaking now).
public enum Severity: String, Sendable, Comparable {
    case warning
    case critical

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs == .warning && rhs == .critical }
}
