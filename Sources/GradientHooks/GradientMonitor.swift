#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ExplosionDetector
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
/// TensorBoard, feeds them and the loss to the `ExplosionDetector`, and reports any alert: in the
/// returned `StepReport`, to `onAlert`, and as Markdown under the `gradalert/alerts` text tag
/// (flushed at once, so the alert is on disk even if the process dies next).
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
        /// Parameters with a NaN or infinite gradient element.
        public var nonFiniteParameters: [String]
        /// True when any gradient is not finite: skip this update, as AMP's GradScaler does.
        public var shouldSkipStep: Bool { !nonFiniteParameters.isEmpty }
    }

    public let writer: SummaryWriter
    public let options: Options
    public var onAlert: ((Alert) -> Void)?
    public private(set) var detector: ExplosionDetector

    private var parameters: [(name: String, parameter: Parameter)] = []
    private var sources: [any GradientSource] = []
    private var previousValues: [String: [Float]] = [:]

    public init(logdir: String, options: Options = Options(), onAlert: ((Alert) -> Void)? = nil) throws {
        writer = try SummaryWriter(logdir: logdir, options: options.writer)
        self.options = options
        self.onAlert = onAlert
        detector = ExplosionDetector(configuration: options.detector)
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
        let wallTime = WallTime.now()
        let measured = measureAll(gradients, histogram: histogram)

        var squares = 0.0
        var maxAbs = 0.0
        var nonFinite: [String] = []
        var points: [ExplosionDetector.Point] = []
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
            points.append(.init("grad_norm/\(name)", .layerGradientNorm, norm))
        }
        let global = squares.squareRoot()
        try writer.scalar("grad_norm/global", global, step: step, wallTime: wallTime)
        points.append(.init("grad_norm/global", .globalGradientNorm, global))
        if let loss {
            try writer.scalar("loss", loss, step: step, wallTime: wallTime)
            points.append(.init("loss", .loss, loss))
        }
        if options.updateRatio { try writeUpdateRatios(step: step, wallTime: wallTime) }

        let alerts = detector.observe(step: Int64(step), wallTime: wallTime, points: points)
        if !alerts.isEmpty && !histogram && options.histogramEvery != nil {
            // The step an alert fires is the one worth seeing in full: write its histograms now,
            // while the gradients are still there, whatever the cadence says.
            for (name, statistics) in measureAll(gradients, histogram: true) {
                if let summary = statistics.histogram() { try writer.histogram("grad/\(name)", summary: summary, step: step, wallTime: wallTime) }
            }
        }
        if !alerts.isEmpty {
            try writer.text("gradalert/alerts", AlertMarkdown.render(alerts), step: step, wallTime: wallTime)
            try writer.flush()
            for alert in alerts { onAlert?(alert) }
        }
        return StepReport(step: step, wallTime: wallTime, globalNorm: global, globalMaxAbs: maxAbs, parameters: measured, alerts: alerts, nonFiniteParameters: nonFinite)
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

    private func writeUpdateRatios(step: Int, wallTime: Double) throws {
        for (name, parameter) in parameters {
            let current = parameter.values
            if let previous = previousValues[name], previous.count == current.count {
                var change = 0.0
                var size = 0.0
                for index in current.indices {
                    let delta = Double(current[index]) - Double(previous[index])
                    change += delta * delta
                    size += Double(current[index]) * Double(current[index])
                }
                let ratio = size > 0 ? (change / size).squareRoot() : 0
                try writer.scalar("update_ratio/\(name)", ratio, step: step, wallTime: wallTime)
            }
            previousValues[name] = current
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
                let norm = source.withGradient(of: name) { buffer -> Double in
                    switch buffer {
                    case .float(let values): return GradientClipping.norm(values, type: normType)
                    case .double(let values): return Self.norm(values, normType)
                    case .float16(let values):
                        let floats = values.map(GradientStatisticsKernel.halfToFloat)
                        return floats.withUnsafeBufferPointer { GradientClipping.norm($0, type: normType) }
                    }
                }
                norms.append(norm)
                sourceNames.append((source, name))
            }
        }
        let total = GradientClipping.totalNorm(norms, type: normType)
        if errorIfNonfinite && !total.isFinite {
            throw GradientClipping.NonFiniteNormError(totalNorm: total, normType: normType)
        }
        let factor = GradientClipping.coefficient(maxNorm: maxNorm, totalNorm: total)
        for (_, parameter) in parameters {
            parameter.gradient.withUnsafeMutableBufferPointer { gradient in
                for index in gradient.indices { gradient[index] *= factor }
            }
        }
        for (source, name) in sourceNames { _ = source.scaleGradient(of: name, by: Double(factor)) }
        return total
    }

    private static func norm(_ values: UnsafeBufferPointer<Double>, _ p: Double) -> Double {
        if p == .infinity { return values.reduce(0) { $1.isNaN || $0.isNaN ? .nan : Swift.max($0, Swift.abs($1)) } }
        return pow(values.reduce(0) { $0 + pow(Swift.abs($1), p) }, 1 / p)
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

/// Alerts as Markdown for TensorBoard's Text tab.
public enum AlertMarkdown {
    public static func render(_ alerts: [Alert]) -> String {
        alerts.map(render).joined(separator: "\n\n---\n\n")
    }

    public static func render(_ alert: Alert) -> String {
        var lines: [String] = []
        let mark = alert.severity == .critical ? "🔴" : "🟠"
        lines.append("### \(mark) \(alert.kind.rawValue) (\(alert.severity.rawValue)) at step \(alert.step)")
        var detail = "**\(alert.series)** = \(format(alert.value))"
        if let baseline = alert.baseline { detail += ", baseline \(format(baseline))" }
        if let ratio = alert.ratio { detail += ", ratio \(format(ratio))×" }
        lines.append(detail)
        lines.append(alert.message)
        if let origin = alert.origin {
            lines.append("First layer to alert in this episode: `\(origin)`")
        }
        if !alert.remedies.isEmpty {
            lines.append("What to try:")
            lines.append(alert.remedies.enumerated().map { "\($0.offset + 1). \($0.element.advice)" }.joined(separator: "\n"))
        }
        return lines.joined(separator: "\n\n")
    }

    private static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        let magnitude = Swift.abs(value)
        if magnitude != 0 && (magnitude >= 1e5 || magnitude < 1e-3) {
            let exponent = Int(floor(log10(magnitude)))
            let mantissa = (value / pow(10, Double(exponent)) * 100).rounded() / 100
            return "\(mantissa)e\(exponent)"
        }
        return "\((value * 1000).rounded() / 1000)"
    }
}

enum WallTime {
    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
}
