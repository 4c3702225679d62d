import GradientDetection

/// An incident with where in its run it happened, and a stable id.
public struct RunIncident: Sendable, Equatable {
    /// `run:stream:segment:openingStep` — the same whichever command or process finds it (scan,
    /// watch, the report, a later scan), so it can key a notification or a Prometheus label.
    public var id: String
    public var run: String
    /// Which concurrent writer (data-parallel rank) of the run; 0 when there is one.
    public var stream: Int
    /// A later segment rewrote the step it opened at: TensorBoard will not show it.
    public var superseded: Bool
    public var incident: Incident

    public init(run: String, stream: Int, superseded: Bool, incident: Incident) {
        self.id = Self.id(run: run, stream: stream, segment: incident.segment, openingStep: incident.openingStep)
        self.run = run
        self.stream = stream
        self.superseded = superseded
        self.incident = incident
    }

    public static func id(run: String, stream: Int, segment: Int, openingStep: Int64) -> String {
        "\(run):\(stream):\(segment):\(openingStep)"
    }
}

/// A change of an incident (opened, escalated, closed), as `watch` reports it.
public struct RunIncidentEvent: Sendable, Equatable {
    public var change: IncidentEvent.Change
    public var step: Int64
    /// The incident right after the change.
    public var incident: RunIncident

    public init(change: IncidentEvent.Change, step: Int64, incident: RunIncident) {
        self.change = change
        self.step = step
        self.incident = incident
    }
}
