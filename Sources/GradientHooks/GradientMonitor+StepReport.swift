import GradientDetection
import TensorBoardEvents

extension GradientMonitor {
    /// What one step measured and found.
    public struct StepReport: Sendable {
        public var step: Int
        /// The wall time written with this step's records.
        public var wallTime: Double
        public var globalNorm: Double
        /// The largest |g| over all watched gradients (the L∞ norm).
        public var globalMaxAbs: Double
        public var parameters: [(name: String, statistics: GradientStatistics)]
        public var alerts: [Alert]
        /// Incidents that opened or escalated at this step (the ones to act on).
        public var incidents: [Incident] { incidentEvents.filter { $0.change != .closed }.map(\.incident) }
        /// Every change of an incident at this step (opened, escalated, closed), in order: what the
        /// monitor wrote to TensorBoard's Text tab.
        public var incidentEvents: [IncidentEvent]
        /// Parameters with a NaN or infinite gradient element.
        public var nonFiniteParameters: [String]
        /// What the spike guard decided (`.pass` without one). With `.clip`, the watched gradients
        /// have already been scaled.
        public var guardDecision: SpikeGuard.Decision
        /// The first failure to write this step's records (they stay buffered and are retried);
        /// nil when everything was written or buffered.
        public var writeFailure: SummaryWriterError?

        /// True when the update should not be applied: a gradient is NaN or infinite (as AMP's
        /// GradScaler skips such steps), or the spike guard says skip.
        public var shouldSkipStep: Bool {
            if !nonFiniteParameters.isEmpty { return true }
            if case .skip = guardDecision { return true }
            return false
        }
    }
}
