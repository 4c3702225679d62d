import Foundation
import GradAlertAnalysis
import GradientDetection
import TensorBoardEvents

/// The `--format json` document of `gradalert scan` (docs/cli.md documents it; fields may be
/// added, none removed or renamed).
enum ScanJSON {
    static func document(_ result: LogScanner.Result) -> String {
        var json = JSONWriter()
        json.beginObject()
        json.field("gradalert", GradAlert.version)
        json.key("runs")
        json.beginArray()
        for report in result.reports { run(report, into: &json) }
        json.endArray()
        json.key("summary")
        json.beginObject()
        json.field("runs", result.reports.count)
        json.field("healthy", result.reports.filter { $0.verdict == .healthy }.count)
        json.field("alerting", result.reports.filter { $0.verdict != .healthy }.count)
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
        json.key("first_alert_step")
        if let first = report.firstAlert { json.integer(first.alert.step) } else { json.null() }
        json.key("origin")
        if let origin = report.origin { json.string(origin) } else { json.null() }
        json.field("segments", report.segments)
        json.field("streams", report.streams)
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

    static func alert(_ scanAlert: RunAlert, run: String?, into json: inout JSONWriter) {
        let alert = scanAlert.alert
        json.beginObject()
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

    static func roleName(_ role: SeriesRole) -> String {
        switch role {
        case .globalGradientNorm: "global_gradient_norm"
        case .layerGradientNorm: "layer_gradient_norm"
        case .layerGradientMax: "layer_gradient_max"
        case .loss: "loss"
        }
    }
}
