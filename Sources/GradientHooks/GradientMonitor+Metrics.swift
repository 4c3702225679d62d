import CoreMetrics
import GradientDetection

/// The monitor's numbers through swift-metrics, the ecosystem's metrics facade: a program that
/// bootstraps a backend (swift-prometheus, swift-otel, StatsD…) gets them with no further code, and
/// without one they cost nothing (the facade's default is a no-op). Every metric has a `run`
/// dimension (`Options.metricsRun`, by default the logdir's last component):
///
/// | metric | kind | value |
/// |---|---|---|
/// | `gradalert_gradient_norm` | gauge | the last global gradient norm |
/// | `gradalert_loss` | gauge | the last loss |
/// | `gradalert_last_step` | gauge | the last step recorded |
/// | `gradalert_open_incidents` | gauge | incidents open now |
/// | `gradalert_incidents_opened_total` | counter | incidents opened, by `kind` and `severity` |
/// | `gradalert_write_failures_total` | counter | steps whose records could not be written |
/// | `gradalert_guard_actions_total` | counter | spike-guard actions, by `action` (skip, clip) |
/// | `gradalert_layer_gradient_norm` | gauge | per `layer`, with `Options.metricsLayerNorms` |
struct MonitorMetrics {
    let factory: any MetricsFactory
    let run: String
    let layerNorms: Bool
    let norm: Gauge
    /// Made at the first loss recorded: a run that passes none shows no loss, not a loss of 0.
    private var loss: Gauge?
    let step: Gauge
    let openIncidents: Gauge
    let writeFailures: Counter
    private var layers: [String: Gauge] = [:]

    init(factory: any MetricsFactory, run: String, layerNorms: Bool) {
        self.factory = factory
        self.run = run
        self.layerNorms = layerNorms
        let dimensions = [("run", run)]
        norm = Gauge(label: "gradalert_gradient_norm", dimensions: dimensions, factory: factory)
        step = Gauge(label: "gradalert_last_step", dimensions: dimensions, factory: factory)
        openIncidents = Gauge(label: "gradalert_open_incidents", dimensions: dimensions, factory: factory)
        writeFailures = Counter(label: "gradalert_write_failures_total", dimensions: dimensions, factory: factory)
    }

    /// A value as a Prometheus backend can expose it: every NaN the canonical one (a NaN with its
    /// sign bit set prints as "-nan", which Prometheus' parser rejects, failing the whole scrape).
    static func exposable(_ value: Double) -> Double { value.isNaN ? .nan : value }

    /// One recorded step.
    mutating func record(_ report: GradientMonitor.StepReport, loss lossValue: Double?, openIncidents open: Int) {
        step.record(Double(report.step))
        norm.record(Self.exposable(report.globalNorm))
        if let lossValue {
            if loss == nil { loss = Gauge(label: "gradalert_loss", dimensions: [("run", run)], factory: factory) }
            loss?.record(Self.exposable(lossValue))
        }
        openIncidents.record(Double(open))
        for event in report.incidentEvents where event.change == .opened {
            let kind = event.incident.alerts.first?.kind.rawValue ?? ""
            Counter(label: "gradalert_incidents_opened_total",
                    dimensions: [("run", run), ("kind", kind), ("severity", event.incident.severity.rawValue)], factory: factory).increment()
        }
        if report.writeFailure != nil { writeFailures.increment() }
        switch report.guardDecision {
        case .pass: break
        case .skip: Counter(label: "gradalert_guard_actions_total", dimensions: [("run", run), ("action", "skip")], factory: factory).increment()
        case .clip: Counter(label: "gradalert_guard_actions_total", dimensions: [("run", run), ("action", "clip")], factory: factory).increment()
        }
        guard layerNorms else { return }
        for (name, statistics) in report.parameters {
            let gauge = layers[name] ?? Gauge(label: "gradalert_layer_gradient_norm", dimensions: [("run", run), ("layer", name)], factory: factory)
            layers[name] = gauge
            gauge.record(Self.exposable(statistics.l2Norm))
        }
    }
}
