import GradientDetection

/// An alert with where in its run it was found.
public struct RunAlert: Sendable, Equatable {
    public var alert: Alert
    /// The segment of its stream (a restart starts a new one).
    public var segment: Int
    /// A later segment rewrote this step: TensorBoard will not show it.
    public var superseded: Bool
    /// Which concurrent writer (data-parallel rank) of the run it came from; 0 when there is one.
    public var stream: Int
    /// The id of its incident (`RunIncident.id`).
    public var incident: String

    public init(alert: Alert, segment: Int, superseded: Bool, stream: Int, incident: String) {
        self.alert = alert
        self.segment = segment
        self.superseded = superseded
        self.stream = stream
        self.incident = incident
    }
}
