#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CoreMetrics
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
/// Each step it measures every watched gradient in one pass (no copies), feeds the norms and the
/// loss — as the event file stores them, in float32 — to the same `StepAssembler` and detector
/// `gradalert scan` uses on files, and reports any alert: in the returned `StepReport`, to
/// `onAlert`; and each incident that opens, escalates or closes — to `onIncident` and as one
/// Markdown block under the `gradalert/alerts` text tag (flushed at once, so it is on disk even if
/// the process dies next).
///
/// **Detection first, logging second.** Every step is measured and judged whatever happens to the
/// event file: when a write fails (a full disk), `record` still returns the step's report, with
/// the failure in `StepReport.writeFailure` and `onWriteFailure`; the records stay buffered and are
/// written when space returns (`Options.throwOnWriteFailure` makes `record` throw instead).
///
/// What it writes per step: `grad_norm/global`, `grad_norm/<parameter>`, `grad_max/<parameter>`,
/// `grad_nonfinite/<parameter>` when non-zero, `loss`; every `histogramEvery` steps, and at every
/// step that raises an alert, the histogram `grad/<parameter>` (and `weights/<parameter>` with
/// `weightHistograms`); with `updateRatio`, `update_ratio/<parameter>` (‖Δw‖ / ‖w‖); with a spike
/// guard, `gradalert/guard_skip` or `gradalert/guard_clip_norm` at the steps it acts.
public final class GradientMonitor {
    public struct Options: Sendable {
        /// Write gradient histograms every this many steps (nil: never). Histograms cost more
        /// than norms, so they are not written every step.
        public var histogramEvery: Int? = 100
        /// Also write histograms of the parameters' values (`weights/<name>`) at the same steps, as
        /// `wandb.watch(log="all")` does. Reflected parameters, and sources that share their values.
        public var weightHistograms = false
        /// Which parameters to watch.
        public var filter: ParameterFilter = .all
        public var detector = DetectorConfiguration()
        /// Threads for large buffers (results do not depend on it).
        public var threads: Int = 1
        /// Also log ‖Δw‖ / ‖w‖ per parameter (keeps a copy of the weights to compare).
        public var updateRatio = false
        /// Skip or clip a step whose global norm spikes (`SpikeGuard`); nil: no guard.
        public var spikeGuard: SpikeGuard.Policy?
        /// The swift-metrics factory the monitor reports through (nil: the one `MetricsSystem` was
        /// bootstrapped with, a no-op when none was); see `GradientMonitor+Metrics.swift`.
        public var metricsFactory: (any MetricsFactory)?
        /// The `run` dimension of those metrics (nil: the logdir's last path component).
        public var metricsRun: String?
        /// Also report each parameter's gradient norm (one gauge per parameter).
        public var metricsLayerNorms = false
        /// Throw from `record` when the event file cannot be written (the default reports it in
        /// `StepReport.writeFailure` and goes on: the job must not die because logging failed).
        public var throwOnWriteFailure = false
        public var writer = SummaryWriter.Options()

        public init() {}
    }

    public let writer: SummaryWriter
    public let options: Options
    public var onAlert: ((Alert) -> Void)?
    /// Called for every incident that opens, escalates or closes.
    public var onIncident: ((IncidentEvent) -> Void)?
    /// Called when writing the event file fails (once per step that has a failure).
    public var onWriteFailure: ((SummaryWriterError) -> Void)?
    /// Called once per kind of misuse (nothing to watch, a parameter watched twice...); when nil,
    /// the warning goes to standard error.
    public var onWarning: ((String) -> Void)?

    // MARK: - State

    /// The steps and series the detector has seen, its alerts and incidents.
    public private(set) var assembler: StepAssembler
    /// Each logged series' handle in the assembler, by tag.
    private var seriesIDs: [String: StepAssembler.SeriesID] = [:]
    var parameters: [(name: String, parameter: Parameter)] = []
    var sources: [any GradientSource] = []
    var previousValues: [String: [Float]] = [:]
    /// The spike guard, when the options ask for one.
    public internal(set) var spikeGuard: SpikeGuard?
    /// Steps at which writing failed, so far.
    public private(set) var writeFailures = 0
    /// The first write failure of the step being recorded.
    var stepWriteFailure: SummaryWriterError?
    /// The L2 norms `record` measured for the watched parameters and sources, in `watchedNames`
    /// order, for `clipGradNorm` to reuse at the same step (nil once anything may have changed).
    var lastNorms: [Double]?
    private var warned: Set<String> = []
    /// The step of the last `record`, to say once when steps stop growing.
    private var lastRecordedStep: Int?
    private var metrics: MonitorMetrics

    public init(logdir: String, options: Options = Options(), onAlert: ((Alert) -> Void)? = nil) throws {
        writer = try SummaryWriter(logdir: logdir, options: options.writer)
        self.options = options
        self.onAlert = onAlert
        assembler = StepAssembler(configuration: options.detector)
        spikeGuard = options.spikeGuard.map(SpikeGuard.init)
        let run = options.metricsRun ?? logdir.split(separator: "/").last.map(String.init) ?? logdir
        metrics = MonitorMetrics(factory: options.metricsFactory ?? MetricsSystem.factory, run: run, layerNorms: options.metricsLayerNorms)
    }

    // MARK: - Watching

    /// Watches every `Parameter` the model holds (found by reflection) that the filter accepts;
    /// returns how many it added. A parameter already watched is not watched twice. `prefix`
    /// (e.g. "encoder") names them "encoder.<path>" (the filter sees that name), for two models
    /// whose parameters would otherwise share names. A model that would bring a different
    /// parameter under a name already in use (or under `global`, the global norm's) is not
    /// watched at all (two gradients would mix in one series), and a warning lists the names.
    @discardableResult
    public func watch(_ model: Any, prefix: String? = nil) -> Int {
        let prefix = prefix.flatMap { $0.isEmpty ? nil : $0 }
        let found = ParameterDiscovery.namedParameters(of: model).map { (name, parameter) in
            (prefix.map { "\($0).\(name)" } ?? name, parameter)
        }
        let accepted = found.filter { options.filter.matches($0.0) }
        var fresh: [(name: String, parameter: Parameter)] = []
        var alreadyWatched = 0
        var collisions: [String] = []
        var taken = Set(watchedNames).union([Self.reservedName])
        for (name, parameter) in accepted {
            if let watched = parameters.first(where: { $0.parameter === parameter }) {
                let known = watched.name == name ? "" : " (as \(watched.name))"
                warnOnce("twice", "gradalert: \(name) is already watched\(known); it is measured and clipped once, under its first name")
                alreadyWatched += 1
            } else if !taken.insert(name).inserted {
                collisions.append(name)
            } else {
                fresh.append((name, parameter))
            }
        }
        if !collisions.isEmpty {
            warnOnce("names-\(collisions.joined(separator: ","))", "gradalert: watch(_:) did not watch \(type(of: model)): its parameter names \(Self.listed(collisions)) are already in use (by another parameter, or global, the global norm's), and two gradients would mix in one series: watch it with a prefix, watch(model, prefix: \"…\")")
            return 0
        }
        parameters += fresh
        if fresh.isEmpty, alreadyWatched == 0 {
            let reason = found.isEmpty
                ? "it holds no Parameter (see docs/hooks.md, \"Attaching to a model\", for models that keep their own storage)"
                : "the filter accepts none of its \(found.count) parameters"
            warnOnce("nothing-\(type(of: model))", "gradalert: watch(_:) found nothing to watch in \(type(of: model)): \(reason)")
        }
        return fresh.count
    }

    /// Watches a model that keeps its own storage. A source whose parameter names are those of one
    /// already watched is taken for the same one, and counts once; a source that shares only some
    /// names with what is watched (or uses `global`, the global norm's name) is not watched (two
    /// gradients would mix in one series), and a warning names them.
    public func watch(source: any GradientSource) {
        let names = Set(source.parameterNames)
        if sources.contains(where: { Set($0.parameterNames) == names }) {
            warnOnce("source-twice", "gradalert: a GradientSource with these parameter names is already watched; this one is taken for it and not watched again (if it is another model, give its parameters distinct names)")
            return
        }
        let shared = names.filter(options.filter.matches).intersection(Set(watchedNames).union([Self.reservedName])).sorted()
        if !shared.isEmpty {
            warnOnce("source-names-\(shared.joined(separator: ","))", "gradalert: a GradientSource names parameters already in use (\(Self.listed(shared))); it is not watched, since two gradients would mix in one series: give its parameters distinct names")
            return
        }
        sources.append(source)
    }

    /// The name no parameter may take: its norm would be logged as `grad_norm/global`, the global
    /// norm's tag.
    static let reservedName = "global"

    /// Up to three names, then how many more.
    static func listed(_ names: [String]) -> String {
        names.prefix(3).joined(separator: ", ") + (names.count > 3 ? " and \(names.count - 3) more" : "")
    }

    /// Names of the watched parameters, in order.
    public var watchedNames: [String] {
        parameters.map(\.name) + sources.flatMap { $0.parameterNames.filter(options.filter.matches) }
    }

    func warnOnce(_ key: String, _ message: String) {
        guard warned.insert(key).inserted else { return }
        if let onWarning { onWarning(message) } else { printToStandardError(message) }
    }

    // MARK: - Recording

    /// Measures the watched gradients at `step` (after the backward pass), logs, and checks.
    @discardableResult
    public func record(step: Int, loss: Double? = nil) throws -> StepReport {
        try record(step: step, loss: loss, gradients: [])
    }

    /// As `record(step:loss:)`, plus gradients in memory gradalert does not own.
    @discardableResult
    public func record(step: Int, loss: Double?, gradients: [NamedGradient]) throws -> StepReport {
        if let last = lastRecordedStep, step <= last {
            warnOnce("step-back", "gradalert: record(step: \(step)) after step \(last): a step that does not grow reads as a restart (TensorBoard keeps only the newest values of a step, and the detector starts afresh); call record once per optimiser step, with a growing step")
        }
        lastRecordedStep = step
        if parameters.isEmpty, sources.isEmpty, gradients.isEmpty {
            warnOnce("record-before-watch", "gradalert: record(step:) with nothing watched: call watch(_:) with your model first (only the loss is checked)")
        }
        let histogram = options.histogramEvery.map { $0 > 0 && step % $0 == 0 } ?? false
        let wallTime = WallClock.now()
        let measured = try measureAll(gradients, histogram: histogram)
        let alertsBefore = assembler.alerts.count
        let eventsBefore = assembler.events.count
        stepWriteFailure = nil

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
            log { try $0.scalar("grad_norm/\(name)", norm, step: step, wallTime: wallTime) }
            log { try $0.scalar("grad_max/\(name)", statistics.maxAbs, step: step, wallTime: wallTime) }
            if statistics.nonFiniteCount > 0 {
                log { try $0.scalar("grad_nonfinite/\(name)", Double(statistics.nonFiniteCount), step: step, wallTime: wallTime) }
            }
            if histogram, let summary = statistics.histogram() {
                log { try $0.histogram("grad/\(name)", summary: summary, step: step, wallTime: wallTime) }
            }
            detect("grad_norm/\(name)", .layerGradientNorm, norm, step: step, wallTime: wallTime)
        }
        let global = squares.squareRoot()
        log { try $0.scalar("grad_norm/global", global, step: step, wallTime: wallTime) }
        detect("grad_norm/global", .globalGradientNorm, global, step: step, wallTime: wallTime)
        if let loss {
            log { try $0.scalar("loss", loss, step: step, wallTime: wallTime) }
            detect("loss", .loss, loss, step: step, wallTime: wallTime)
        }
        if options.updateRatio { writeUpdateRatios(step: step, wallTime: wallTime) }
        if histogram, options.weightHistograms { writeWeightHistograms(step: step, wallTime: wallTime) }
        assembler.completeStep()
        let alerts = assembler.alerts[alertsBefore...].map(\.alert)
        let events = Array(assembler.events[eventsBefore...])
        if !alerts.isEmpty && !histogram && options.histogramEvery != nil {
            // The step an alert fires is the one worth seeing in full: write its histograms now,
            // while the gradients are still there (and before the spike guard may clip them),
            // whatever the cadence says.
            for (name, statistics) in (try? measureAll(gradients, histogram: true)) ?? [] {
                if let summary = statistics.histogram() {
                    log { try $0.histogram("grad/\(name)", summary: summary, step: step, wallTime: wallTime) }
                }
            }
        }
        let decision = guardStep(global, step: step, wallTime: wallTime)
        if !events.isEmpty {
            log { try $0.text("gradalert/alerts", IncidentMarkdown.render(events), step: step, wallTime: wallTime) }
        }
        if !alerts.isEmpty || !events.isEmpty {
            log { try $0.flush() }
            for alert in alerts { onAlert?(alert) }
            for event in events { onIncident?(event) }
        }
        let report = StepReport(
            step: step, wallTime: wallTime, globalNorm: global, globalMaxAbs: maxAbs, parameters: measured, alerts: alerts,
            incidentEvents: events, nonFiniteParameters: nonFinite, guardDecision: decision, writeFailure: stepWriteFailure)
        metrics.record(report, loss: loss, openIncidents: assembler.incidents.last.map { $0.isOpen ? 1 : 0 } ?? 0)
        if let failure = stepWriteFailure {
            writeFailures += 1
            onWriteFailure?(failure)
            if options.throwOnWriteFailure { throw failure }
        }
        return report
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

    /// Runs one write; a failure is kept for the step's report (the first one), never thrown here:
    /// detection goes on, and the records stay buffered for the next flush.
    func log(_ write: (SummaryWriter) throws -> Void) {
        do {
            try write(writer)
        } catch {
            // The writer only throws SummaryWriterError.
            if stepWriteFailure == nil, let error = error as? SummaryWriterError { stepWriteFailure = error }
        }
    }

    /// Flushes and closes the event file; throws, naming what could not be written, when the last
    /// flush fails (the file is closed either way).
    public func close() throws {
        try writer.close()
    }
}

/// A warning for the person running the job.
func printToStandardError(_ message: String) {
    var line = Array((message + "\n").utf8)
    _ = line.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}
