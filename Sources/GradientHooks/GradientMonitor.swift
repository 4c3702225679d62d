#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GradientDetection
import TensorBoardEvents

/// The two lines a training loop adds: watch a model once, record after every backward pass.
///
/// ```swift
/// let monitor = try GradientMonitor(logdir: "runs/exp1")
/// monitor.watch(model)
/// for step in 0..<steps {
///     // forward, backward...
///     let report = try monitor.record(step: step, loss: loss)
///     if report.shouldSkipStep { continue }   // a NaN/Inf gradient: do not apply this update
///     optimiser.update(model)
/// }
/// ```
///
/// Each step it measures every watched gradient in one pass (no copies), writes the norms to
/// TensorBoard, feeds them and the loss — as the file stores them, in float32 — to the same
/// `StepAssembler` and detector `gradalert scan` uses on files, and reports any alert: in the
/// returned `StepReport`, to `onAlert`; and each incident that opens, escalates or closes — to
/// `onIncident` and as one Markdown block under the `gradalert/alerts` text tag (flushed at once,
/// so it is on disk even if the process dies next).
///
/// What it writes per step: `grad_norm/global`, `grad_norm/<parameter>`, `grad_max/<parameter>`,
/// `grad_nonfinite/<parameter>` when non-zero, `loss`; every `histogramEvery` steps, and at every
/// step that raises an alert, the histogram `grad/<parameter>`; with `updateRatio`, `update_ratio/<parameter>` (‖Δw‖ / ‖w‖).
public final class GradientMonitor {
    public struct Options: Sendable {
        /// Write gradient histograms every this many steps (nil: never). Histograms cost more
        /// than norms, so they are not written every step.
        public var histogramEvery: Int? = 100
        /// Which parameters to watch.
        public var filter: ParameterFilter = .all
        public var detector = DetectorConfiguration()
        /// Threads for large buffers (results do not depend on it).
        public var threads: Int = 1
        /// Also log ‖Δw‖ / ‖w‖ per parameter (keeps a copy of the weights to compare).
        public var updateRatio = false
        public var writer = SummaryWriter.Options()

        public init() {}
    }

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
        /// True when any gradient is not finite: skip this update, as AMP's GradScaler does.
        public var shouldSkipStep: Bool { !nonFiniteParameters.isEmpty }
    }

    public let writer: SummaryWriter
    public let options: Options
    public var onAlert: ((Alert) -> Void)?
    /// Called for every incident that opens, escalates or closes.
    public var onIncident: ((IncidentEvent) -> Void)?
    /// The steps and series the detector has seen, its alerts and episodes.
    public private(set) var assembler: StepAssembler
    /// Each logged series' handle in the assembler, by tag.
    private var seriesIDs: [String: StepAssembler.SeriesID] = [:]

    private var parameters: [(name: String, parameter: Parameter)] = []
    private var sources: [any GradientSource] = []
    private var previousValues: [String: [Float]] = [:]

    public init(logdir: String, options: Options = Options(), onAlert: ((Alert) -> Void)? = nil) throws {
        writer = try SummaryWriter(logdir: logdir, options: options.writer)
        self.options = options
        self.onAlert = onAlert
        assembler = StepAssembler(configuration: options.detector)
    }

    /// Watches every `Parameter` the model holds (found by reflection) that the filter accepts.
    public func watch(_ model: Any) {
        for (name, parameter) in ParameterDiscovery.namedParameters(of: model) where options.filter.matches(name) {
            parameters.append((name, parameter))
        }
    }

    /// Watches a model that keeps its own storage.
    public func watch(source: any GradientSource) {
        sources.append(source)
    }

    /// Names of the watched parameters, in order.
    public var watchedNames: [String] {
        parameters.map(\.name) + sources.flatMap { $0.parameterNames.filter(options.filter.matches) }
    }

    /// Measures the watched gradients at `step` (after the backward pass), logs, and checks.
    @discardableResult
    public func record(step: Int, loss: Double? = nil) throws -> StepReport {
        try record(step: step, loss: loss, gradients: [])
    }

    /// As `record(step:loss:)`, plus gradients in memory gradalert does not own.
    @discardableResult
    public func record(step: Int, loss: Double?, gradients: [NamedGradient]) throws -> StepReport {
        let histogram = options.histogramEvery.map { $0 > 0 && step % $0 == 0 } ?? false
        let wallTime = WallClock.now()
        let measured = measureAll(gradients, histogram: histogram)
        let alertsBefore = assembler.alerts.count
        let eventsBefore = assembler.events.count

        var squares = 0.0
        var maxAbs = 0.0
        var nonFinite: [String] = []
        for (name, statistics) in measured {
            let norm = statistics.l2Norm
            squares += norm * norm
            maxAbs = Swift.max(maxAbs, statistics.maxAbs.isNaN ? .nan : statistics.maxAbs)
            if !statistics.isFinite {
                nonFinite.append(name)
                maxAbs = statistics.nanCount > 0 ? .nan : (maxAbs.isNaN ? maxAbs : .infinity)
            }
            try writer.scalar("grad_norm/\(name)", norm, step: step, wallTime: wallTime)
            try writer.scalar("grad_max/\(name)", statistics.maxAbs, step: step, wallTime: wallTime)
            if statistics.nonFiniteCount > 0 {
                try writer.scalar("grad_nonfinite/\(name)", Double(statistics.nonFiniteCount), step: step, wallTime: wallTime)
            }
            if histogram, let summary = statistics.histogram() {
                try writer.histogram("grad/\(name)", summary: summary, step: step, wallTime: wallTime)
            }
            detect("grad_norm/\(name)", .layerGradientNorm, norm, step: step, wallTime: wallTime)
        }
        let global = squares.squareRoot()
        try writer.scalar("grad_norm/global", global, step: step, wallTime: wallTime)
        detect("grad_norm/global", .globalGradientNorm, global, step: step, wallTime: wallTime)
        if let loss {
            try writer.scalar("loss", loss, step: step, wallTime: wallTime)
            detect("loss", .loss, loss, step: step, wallTime: wallTime)
        }
        if options.updateRatio { try writeUpdateRatios(step: step, wallTime: wallTime) }

        assembler.completeStep()
        let alerts = assembler.alerts[alertsBefore...].map(\.alert)
        let events = Array(assembler.events[eventsBefore...])
        if !alerts.isEmpty && !histogram && options.histogramEvery != nil {
            // The step an alert fires is the one worth seeing in full: write its histograms now,
            // while the gradients are still there, whatever the cadence says.
            for (name, statistics) in measureAll(gradients, histogram: true) {
                if let summary = statistics.histogram() { try writer.histogram("grad/\(name)", summary: summary, step: step, wallTime: wallTime) }
            }
        }
        if !events.isEmpty {
            try writer.text("gradalert/alerts", IncidentMarkdown.render(events), step: step, wallTime: wallTime)
        }
        if !alerts.isEmpty || !events.isEmpty {
            try writer.flush()
            for alert in alerts { onAlert?(alert) }
            for event in events { onIncident?(event) }
        }
        return StepReport(
            step: step, wallTime: wallTime, globalNorm: global, globalMaxAbs: maxAbs, parameters: measured, alerts: alerts,
            incidentEvents: events, nonFiniteParameters: nonFinite)
    }

    /// Hands one value to the assembler as the event file stores it (a float32 `simple_value`), so
    /// that a scan of the file later sees exactly what the detector saw now.
    private func detect(_ tag: String, _ role: SeriesRole, _ value: Double, step: Int, wallTime: Double) {
        let id = seriesIDs[tag] ?? {
            let id = assembler.series(tag, kind: .scalar(role))
            seriesIDs[tag] = id
            return id
        }()
        assembler.add(id, Double(Float(value)), step: Int64(step), wallTime: wallTime)
    }

    /// One pass over every watched gradient: reflected parameters, sources, then raw buffers.
    private func measureAll(_ gradients: [NamedGradient], histogram: Bool) -> [(String, GradientStatistics)] {
        var measured: [(String, GradientStatistics)] = []
        for (name, parameter) in parameters {
            let statistics = parameter.gradient.withUnsafeBufferPointer {
                GradientStatisticsKernel.compute($0, histogram: histogram, threads: options.threads)
            }
            measured.append((name, statistics))
        }
        for source in sources {
            for name in source.parameterNames where options.filter.matches(name) {
                measured.append((name, source.withGradient(of: name) { measure($0, histogram: histogram) }))
            }
        }
        for gradient in gradients where options.filter.matches(gradient.name) {
            measured.append((gradient.name, measure(gradient.buffer, histogram: histogram)))
        }
        return measured
    }

    private func measure(_ buffer: GradientBuffer, histogram: Bool) -> GradientStatistics {
        switch buffer {
        case .float(let values): GradientStatisticsKernel.compute(values, histogram: histogram, threads: options.threads)
        case .double(let values): GradientStatisticsKernel.compute(values, histogram: histogram, threads: options.threads)
        case .float16(let values): GradientStatisticsKernel.compute(float16Bits: values, histogram: histogram, threads: options.threads)
        }
    }

    /// ‖Δw‖ / ‖w‖ per parameter since the last step: reflected parameters, and sources that share
    /// their values (`GradientSource.withValues`).
    private func writeUpdateRatios(step: Int, wallTime: Double) throws {
        var current: [(String, [Float])] = parameters.map { ($0.name, $0.parameter.values) }
        for source in sources {
            for name in source.parameterNames where options.filter.matches(name) {
                if let values = source.withValues(of: name, Self.floats) { current.append((name, values)) }
            }
        }
        for (name, values) in current {
            if let previous = previousValues[name], previous.count == values.count {
                var change = 0.0
                var size = 0.0
                for index in values.indices {
                    let delta = Double(values[index]) - Double(previous[index])
                    change += delta * delta
                    size += Double(values[index]) * Double(values[index])
                }
                let ratio = size > 0 ? (change / size).squareRoot() : 0
                try writer.scalar("update_ratio/\(name)", ratio, step: step, wallTime: wallTime)
            }
            previousValues[name] = values
        }
    }

    /// A buffer's values as floats (a copy: the update ratio compares with the next step's).
    private static func floats(_ buffer: GradientBuffer) -> [Float] {
        switch buffer {
        case .float(let values): Array(values)
        case .double(let values): values.map { Float($0) }
        case .float16(let values): values.map(HalfFloat.float(fromBits:))
        }
    }

    /// Clips the watched parameters' gradients (PyTorch's `clip_grad_norm_`); returns the total
    /// norm before clipping. Sources that cannot scale their gradients are measured but not clipped.
    @discardableResult
    public func clipGradNorm(maxNorm: Double, normType: Double = 2, errorIfNonfinite: Bool = false) throws -> Double {
        var norms = parameters.map { entry in entry.parameter.gradient.withUnsafeBufferPointer { GradientClipping.norm($0, type: normType) } }
        var sourceNames: [(any GradientSource, String)] = []
        for source in sources {
            for name in source.parameterNames where options.filter.matches(name) {
                norms.append(source.withGradient(of: name) { GradientClipping.norm($0, type: normType) })
                sourceNames.append((source, name))
            }
        }
        let (total, factor) = try GradientClipping.clipping(norms: norms, maxNorm: maxNorm, normType: normType, errorIfNonfinite: errorIfNonfinite)
        for (_, parameter) in parameters {
            parameter.gradient.withUnsafeMutableBufferPointer { gradient in
                for index in gradient.indices { gradient[index] *= factor }
            }
        }
        for (source, name) in sourceNames { _ = source.scaleGradient(of: name, by: Double(factor)) }
        return total
    }

    /// Clamps the watched parameters' gradients to [-clipValue, clipValue].
    public func clipGradValue(_ clipValue: Float) {
        GradientClipping.clipGradValue(parameters.map(\.parameter), clipValue)
    }

    /// Flushes and closes the event file.
    public func close() throws {
        try writer.close()
    }
}
