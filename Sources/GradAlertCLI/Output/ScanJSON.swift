import Foundation
import GradAlertAnalysis
import GradientDetection
import TensorBoardEvents

/// The `--format json` document of `gradalert scan` (docs/cli.md documents it; fields may be
/// added, none removed or renamed; `schema` changes when a field changes meaning).
enum ScanJSON {
    /// The document's schema version: 2 added incidents, alerts' `incident` and the `no_data` verdict.
    static let schema = 2

    static func document(_ result: LogScanner.Result) -> String {
        var json = JSONWriter()
        json.beginObject()
        json.field("gradalert", GradAlert.version)
        json.field("schema", schema)
        json.key("runs")
        json.beginArray()
        for report in result.reports { run(report, into: &json) }
        json.endArray()
        json.key("summary")
        json.beginObject()
        json.field("runs", result.reports.count)
        json.field("healthy", result.reports.filter { $0.verdict == .healthy }.count)
        json.field("alerting", result.reports.filter { $0.verdict > .healthy }.count)
        json.field("no_data", result.reports.filter { $0.verdict == .noData }.count)
        json.field("incidents", result.reports.reduce(0) { $0 + $1.incidents.count })
        json.field("files", result.files)
        json.field("bytes", result.bytes)
        json.field("seconds", (result.seconds * 1000).rounded() / 1000)
        json.endObject()
        json.endObject()
        return json.output
    }

    static func run(_ report: RunReport, into json: inout JSONWriter) {
        json.beginObject()
        json.field("run", report.run)
        json.field("verdict", report.verdict.rawValue)
        json.key("no_data_reason")
        if let reason = report.noDataReason { json.string(reason) } else { json.null() }
        json.key("first_alert_step")
        if let first = report.firstAlert { json.integer(first.alert.step) } else { json.null() }
        json.key("origin")
        if let origin = report.origin { json.string(origin) } else { json.null() }
        json.field("segments", report.segments)
        json.field("streams", report.streams)
        json.key("incidents")
        json.beginArray()
        for incident in report.incidents { self.incident(incident, into: &json) }
        json.endArray()
        json.key("alerts")
        json.beginArray()
        for alert in report.alerts { self.alert(alert, run: nil, into: &json) }
        json.endArray()
        json.key("series")
        json.beginObject()
        json.key("gradient")
        json.beginArray()
        for name in report.gradientSeries { json.string(name) }
        json.endArray()
        json.key("loss")
        json.beginArray()
        for name in report.lossSeries { json.string(name) }
        json.endArray()
        json.endObject()
        json.key("diagnostics")
        json.beginArray()
        for diagnostic in report.diagnostics { DiagnosticJSON.write(diagnostic, into: &json) }
        json.endArray()
        json.endObject()
    }

    /// One alert; `run` is given where the object stands alone, and `type` marks it in watch's
    /// JSON lines.
    static func alert(_ scanAlert: RunAlert, run: String?, type: String? = nil, into json: inout JSONWriter) {
        let alert = scanAlert.alert
        json.beginObject()
        if let type { json.field("type", type) }
        if let run { json.field("run", run) }
        json.field("kind", alert.kind.rawValue)
        json.field("severity", alert.severity.rawValue)
        json.field("tag", alert.series)
        json.field("role", roleName(alert.role))
        json.field("step", alert.step)
        json.field("value", alert.value)
        json.key("baseline")
        if let baseline = alert.baseline { json.number(baseline) } else { json.null() }
        json.key("ratio")
        if let ratio = alert.ratio { json.number(ratio) } else { json.null() }
        json.key("wall_time")
        if let wallTime = alert.wallTime { json.number(wallTime) } else { json.null() }
        json.key("origin")
        if let origin = alert.origin { json.string(origin) } else { json.null() }
        json.field("segment", scanAlert.segment)
        json.field("superseded", scanAlert.superseded)
        json.field("stream", scanAlert.stream)
        json.field("incident", scanAlert.incident)
        json.field("message", alert.message)
        json.key("remedies")
        json.beginArray()
        for remedy in alert.remedies { json.string(remedy.advice) }
        json.endArray()
        json.key("remedy_ids")
        json.beginArray()
        for remedy in alert.remedies { json.string(remedy.rawValue) }
        json.endArray()
        json.endObject()
    }

    /// One incident; `run` is given where the object stands alone, and `event` (what changed, at
    /// which step) in watch's JSON lines.
    static func incident(_ entry: RunIncident, run: String? = nil, event: (change: IncidentEvent.Change, step: Int64)? = nil, into json: inout JSONWriter) {
        let incident = entry.incident
        json.beginObject()
        if let event {
            json.field("type", "incident")
            json.field("change", event.change.rawValue)
            json.field("step", event.step)
        }
        json.field("id", entry.id)
        if let run { json.field("run", run) }
        json.field("stream", entry.stream)
        json.field("segment", incident.segment)
        json.field("opening_step", incident.openingStep)
        json.key("opening_wall_time")
        if let time = incident.openingWallTime { json.number(time) } else { json.null() }
        json.key("closing_step")
        if let closing = incident.closingStep { json.integer(closing) } else { json.null() }
        json.field("open", incident.isOpen)
        json.field("severity", incident.severity.rawValue)
        json.key("kinds")
        json.beginArray()
        for kind in incident.kinds { json.string(kind.rawValue) }
        json.endArray()
        json.key("origin")
        if let origin = incident.origin { json.string(origin) } else { json.null() }
        json.key("origin_layer")
        if let layer = incident.originLayer { json.string(layer) } else { json.null() }
        json.field("layers", incident.layerCount)
        json.key("gradient_series")
        json.beginArray()
        for series in incident.gradientSeries { json.string(series) }
        json.endArray()
        json.key("peak_value")
        if let peak = incident.peakValue { json.number(peak) } else { json.null() }
        json.key("peak_series")
        if let series = incident.peakSeries { json.string(series) } else { json.null() }
        json.key("peak_ratio")
        if let ratio = incident.peakRatio { json.number(ratio) } else { json.null() }
        json.key("first_nonfinite_step")
        if let step = incident.firstNonfiniteStep { json.integer(step) } else { json.null() }
        json.field("loss_broke_first", incident.lossBrokeFirst)
        json.field("superseded", entry.superseded)
        json.field("alert_count", incident.alerts.count)
        json.field("summary", incident.headline)
        json.key("remedies")
        json.beginArray()
        for remedy in incident.remedies { json.string(remedy.advice) }
        json.endArray()
        json.key("remedy_ids")
        json.beginArray()
        for remedy in incident.remedies { json.string(remedy.rawValue) }
        json.endArray()
        json.endObject()
    }

    static func roleName(_ role: SeriesRole) -> String {
        switch role {
        case .globalGradientNorm: "global_gradient_norm"
        case .layerGradientNorm: "layer_gradient_norm"
        case .layerGradientMax: "layer_gradient_max"
        case .loss: "loss"
        case .clippedGradientNorm: "clipped_gradient_norm"
        }
    }
}
