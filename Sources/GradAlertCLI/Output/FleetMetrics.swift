import Foundation
import GradAlertAnalysis
import GradientDetection
import Prometheus
import TensorBoardEvents

/// What `gradalert watch --metrics-listen` serves: the state of every followed run as Prometheus
/// metrics (docs/monitoring.md lists them), kept in a swift-prometheus registry and updated after
/// each poll. Every series of a run carries `run` (and `stream`, the concurrent writer) labels;
/// swift-prometheus escapes their values.
///
/// Cardinality is bounded per stream: about ten series, plus at most `layerLimit` per-layer norms
/// (the largest ones; 0 leaves them out), plus two per incident while it is open and for
/// `incidentGrace` seconds after it closed.
final class FleetMetrics {
    let registry = PrometheusCollectorRegistry()
    let layerLimit: Int
    let incidentGrace: Double

    private struct StreamKey: Hashable {
        var run: String
        var stream: Int
    }

    /// One stream's series (the norm's and the loss's once the stream has them).
    private struct StreamSeries {
        var lastStep: Gauge
        var lastStepTime: Gauge
        var norm: Gauge?
        var normStep: Gauge?
        var loss: Gauge?
        var openIncidents: Gauge
        var layers: [String: Gauge] = [:]
        /// How many incident events have been counted.
        var eventsSeen = 0
    }

    /// One incident's series (the one of its current severity), and when it closed.
    private struct IncidentSeries {
        var gauge: Gauge
        var severity: Severity
        var closedAt: Double?
    }

    /// One run's series.
    private struct RunSeries {
        var verdict: Gauge
        var verdictName: String
        var damaged: Counter
        var bytes: Counter
        var records: Counter
        var damagedSeen = 0
        var bytesSeen = 0
        var recordsSeen = 0
    }

    private var streams: [StreamKey: StreamSeries] = [:]
    /// The generation of each run's analyzer when its series were last brought up to date.
    private var generations: [String: Int] = [:]
    private var incidents: [String: IncidentSeries] = [:]
    private var runs: [String: RunSeries] = [:]
    /// The incident counters of each run (by kind and severity), to drop with it.
    private var openedCounters: [String: [Counter]] = [:]
    private let runCount: Gauge
    private let lastPoll: Gauge
    private let pollDuration: Gauge
    private let polls: Counter
    private let watchErrors: Counter

    init(layerLimit: Int, incidentGrace: Double) {
        self.layerLimit = layerLimit
        self.incidentGrace = incidentGrace
        runCount = registry.makeGauge(descriptor: .named("gradalert_runs", help: "Runs followed."))
        lastPoll = registry.makeGauge(descriptor: .named("gradalert_last_poll_timestamp_seconds", help: "When the last poll ended (Unix seconds)."))
        pollDuration = registry.makeGauge(descriptor: .named("gradalert_poll_duration_seconds", help: "How long the last poll took, reading and updating these metrics (wall seconds)."))
        polls = registry.makeCounter(descriptor: .named("gradalert_polls_total", help: "Polls of the log directory."))
        watchErrors = registry.makeCounter(descriptor: .named("gradalert_watch_errors_total", help: "Polls that could not read the log directory."))
    }

    /// Brings every series up to date after a poll (`started`: when the poll began).
    func update(from follower: LogFollower, poll: LogFollower.Poll, started: Double? = nil, now: Double = Date().timeIntervalSince1970) {
        if poll.error != nil { watchErrors.increment() }
        for name in poll.forgotten { forget(run: name) }
        let analyzers = follower.analyzers
        runCount.set(Double(analyzers.count))
        for (name, analyzer) in analyzers where generations[name] != analyzer.generation {
            generations[name] = analyzer.generation
            updateRun(name, analyzer)
            for stream in 0..<analyzer.streamCount {
                updateStream(StreamKey(run: name, stream: stream), analyzer.stream(stream), now: now)
            }
        }
        expireIncidents(now: now)
        let end = Date().timeIntervalSince1970
        lastPoll.set(end)
        if let started { pollDuration.set(end - started) }
        polls.increment()
    }

    private func updateRun(_ name: String, _ analyzer: RunAnalyzer) {
        let report = analyzer.report()
        let verdict = report.verdict.rawValue
        var series = runs[name] ?? RunSeries(
            verdict: registry.makeGauge(descriptor: .named("gradalert_run_verdict", help: Self.verdictHelp), labels: [("run", name), ("verdict", verdict)]),
            verdictName: verdict,
            damaged: registry.makeCounter(descriptor: .named("gradalert_damaged_records_total", help: "Damaged spots found in the run's files (a bad CRC, a record that is not an Event...)."), labels: [("run", name)]),
            bytes: registry.makeCounter(descriptor: .named("gradalert_read_bytes_total", help: "Bytes of event files read."), labels: [("run", name)]),
            records: registry.makeCounter(descriptor: .named("gradalert_read_records_total", help: "Intact records read."), labels: [("run", name)]))
        if series.verdictName != verdict {
            registry.unregisterGauge(series.verdict)
            series.verdict = registry.makeGauge(descriptor: .named("gradalert_run_verdict", help: Self.verdictHelp), labels: [("run", name), ("verdict", verdict)])
            series.verdictName = verdict
        }
        series.verdict.set(1.0)
        let damaged = report.diagnostics.filter { $0.problem != .truncated }.count
        if damaged > series.damagedSeen { series.damaged.increment(by: Int64(damaged - series.damagedSeen)) }
        series.damagedSeen = max(series.damagedSeen, damaged)
        if report.bytes > series.bytesSeen { series.bytes.increment(by: Int64(report.bytes - series.bytesSeen)) }
        series.bytesSeen = max(series.bytesSeen, report.bytes)
        if report.records > series.recordsSeen { series.records.increment(by: Int64(report.records - series.recordsSeen)) }
        series.recordsSeen = max(series.recordsSeen, report.records)
        runs[name] = series
    }

    /// A value as Prometheus reads it: every NaN the canonical one (swift-prometheus writes a value
    /// as Swift prints it, and Prometheus' parser rejects "-nan" or a NaN with a payload, which
    /// would make the whole scrape fail).
    static func exposable(_ value: Double) -> Double { value.isNaN ? .nan : value }

    private static let verdictHelp = "1 for the run's verdict so far (no_data, healthy, warning, exploding, nonfinite)."

    private func updateStream(_ key: StreamKey, _ analysis: StreamAnalysis, now: Double) {
        let labels = [("run", key.run), ("stream", String(key.stream))]
        var series = streams[key] ?? StreamSeries(
            lastStep: registry.makeGauge(descriptor: .named("gradalert_last_step", help: "The last step read."), labels: labels),
            lastStepTime: registry.makeGauge(descriptor: .named("gradalert_last_step_timestamp_seconds", help: "The wall time written with the last step read (Unix seconds)."), labels: labels),
            openIncidents: registry.makeGauge(descriptor: .named("gradalert_open_incidents", help: "Incidents open now."), labels: labels))
        let assembler = analysis.assembler
        if let latest = assembler.latestStep {
            series.lastStep.set(Double(latest.step))
            if let time = latest.wallTime { series.lastStepTime.set(time) }
        }
        let values = assembler.latestValues
        if let global = values.first(where: { $0.kind == .scalar(.globalGradientNorm) }) {
            if series.norm == nil {
                series.norm = registry.makeGauge(descriptor: .named("gradalert_gradient_norm", help: "The last global gradient norm (logged, or computed from the layers' norms)."), labels: labels)
                series.normStep = registry.makeGauge(descriptor: .named("gradalert_gradient_norm_step", help: "The step of gradalert_gradient_norm."), labels: labels)
            }
            series.norm?.set(Self.exposable(global.latest.value))
            series.normStep?.set(Double(global.latest.step))
        }
        if let loss = values.first(where: { $0.kind == .scalar(.loss) }) {
            if series.loss == nil { series.loss = registry.makeGauge(descriptor: .named("gradalert_loss", help: "The last loss."), labels: labels) }
            series.loss?.set(Self.exposable(loss.latest.value))
        }
        updateLayers(&series, key: key, values: values)
        // Incidents: a counter of the ones opened, and one series per incident.
        for event in assembler.events[series.eventsSeen...] {
            let entry = RunIncident(run: key.run, stream: key.stream, superseded: false, incident: event.incident)
            if event.change == .opened {
                let first = event.incident.alerts.first
                let counter = registry.makeCounter(
                    descriptor: .named("gradalert_incidents_opened_total", help: "Incidents opened, by the kind and severity they opened with."),
                    labels: labels + [("kind", first?.kind.rawValue ?? ""), ("severity", event.incident.severity.rawValue)])
                counter.increment()
                if !(openedCounters[key.run] ?? []).contains(where: { $0 === counter }) { openedCounters[key.run, default: []].append(counter) }
            }
            noteIncident(entry, change: event.change, closingTime: assembler.latestStep?.wallTime ?? now)
        }
        series.eventsSeen = assembler.events.count
        series.openIncidents.set(Double(assembler.incidents.filter(\.isOpen).count))
        streams[key] = series
    }

    /// The `layerLimit` largest per-layer norms of the stream (by their last value).
    private func updateLayers(_ series: inout StreamSeries, key: StreamKey, values: [(name: String, kind: StepAssembler.SeriesKind, latest: StepAssembler.Latest)]) {
        guard layerLimit > 0 else { return }
        // As the detector does: a run that logs per-layer norm scalars and gradient histograms of
        // the same layers (GradientMonitor does) is read from the scalars; the histograms' norms
        // would share their `layer` label.
        let scalars = values.filter { $0.kind == .scalar(.layerGradientNorm) }
        var seen: Set<String> = []
        let layers = (scalars.isEmpty ? values.filter { $0.kind == .histogramNorm } : scalars)
            .filter { seen.insert(Incident.layerName($0.name)).inserted }
        let chosen = layers.sorted { ($0.latest.value.isNaN ? .infinity : $0.latest.value) > ($1.latest.value.isNaN ? .infinity : $1.latest.value) }
            .prefix(layerLimit)
        let names = Set(chosen.map(\.name))
        for (name, gauge) in series.layers where !names.contains(name) {
            registry.unregisterGauge(gauge)
            series.layers[name] = nil
        }
        for layer in chosen {
            let gauge = series.layers[layer.name] ?? registry.makeGauge(
                descriptor: .named("gradalert_layer_gradient_norm", help: "The last gradient norm of a layer (the largest ones, --metrics-layers of them)."),
                labels: [("run", key.run), ("stream", String(key.stream)), ("layer", Incident.layerName(layer.name))])
            gauge.set(Self.exposable(layer.latest.value))
            series.layers[layer.name] = gauge
        }
    }

    /// `gradalert_incident_open`: 1 while the incident is open, 0 once it closed (kept for
    /// `incidentGrace` seconds). Its labels are fixed for each severity it reaches: an escalation
    /// replaces the warning series by a critical one, so an alert rule on critical incidents fires
    /// once per incident.
    private func noteIncident(_ entry: RunIncident, change: IncidentEvent.Change, closingTime: Double) {
        let incident = entry.incident
        var series = incidents[entry.id]
        if series == nil || series!.severity != incident.severity {
            if let old = series?.gauge { registry.unregisterGauge(old) }
            let kind = incident.alerts.first { $0.severity == incident.severity }?.kind ?? incident.kinds.first ?? .spike
            let gauge = registry.makeGauge(
                descriptor: .named("gradalert_incident_open", help: "1 while an incident is open, 0 for a while after it closed."),
                labels: [("run", entry.run), ("stream", String(entry.stream)), ("incident", entry.id),
                         ("severity", incident.severity.rawValue), ("kind", kind.rawValue), ("origin", incident.originLayer ?? "")])
            series = IncidentSeries(gauge: gauge, severity: incident.severity, closedAt: nil)
        }
        if change == .closed {
            // Kept from the wall time of the step that closed it, so that a restarted watch, which
            // reads the logs again, does not show incidents that closed long ago.
            series!.closedAt = closingTime
            series!.gauge.set(0.0)
        } else {
            series!.gauge.set(1.0)
        }
        incidents[entry.id] = series
    }

    private func expireIncidents(now: Double) {
        for (id, series) in incidents {
            if let closed = series.closedAt, now - closed >= incidentGrace {
                registry.unregisterGauge(series.gauge)
                incidents[id] = nil
            }
        }
    }

    /// A run gone from the logdir: every series of it goes.
    private func forget(run name: String) {
        generations[name] = nil
        if let series = runs.removeValue(forKey: name) {
            registry.unregisterGauge(series.verdict)
            registry.unregisterCounter(series.damaged)
            registry.unregisterCounter(series.bytes)
            registry.unregisterCounter(series.records)
        }
        for key in streams.keys where key.run == name {
            let series = streams.removeValue(forKey: key)!
            let gauges = [series.lastStep, series.lastStepTime, series.openIncidents] + [series.norm, series.normStep, series.loss].compactMap { $0 }
            for gauge in gauges + Array(series.layers.values) {
                registry.unregisterGauge(gauge)
            }
        }
        for (id, series) in incidents where id.hasPrefix(name + ":") {
            registry.unregisterGauge(series.gauge)
            incidents[id] = nil
        }
        for counter in openedCounters.removeValue(forKey: name) ?? [] { registry.unregisterCounter(counter) }
    }
}

extension MetricNameDescriptor {
    /// A metric's full name (ours carry their unit in the name already) and its help text.
    static func named(_ name: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}
