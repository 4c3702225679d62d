/// A stretch of steps during which at least one series of a run (one stream, one segment) had an
/// open episode: the alerts that belong together.
public struct Episode: Sendable, Equatable {
    public var firstStep: Int64
    /// The step at which the last abnormal series had been normal long enough to close (nil
    /// while the episode is open).
    public var lastStep: Int64?
    /// The per-layer norm series that alerted first (ties: the largest ratio); nil when only
    /// global, max or loss series alerted.
    public var origin: String?
    /// Every alert raised during the episode, in order.
    public var alerts: [Alert]
}
