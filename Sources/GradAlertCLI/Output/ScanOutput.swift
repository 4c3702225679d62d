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

/// Terminal output of `gradalert scan` and `watch`.
struct ScanText {
    var colour: Bool
    var maxAlertsPerRun = 12

    private func paint(_ text: String, _ code: String) -> String {
        colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    func report(_ result: LogScanner.Result, paths: [String]) -> String {
        var out = ""
        let megabytes = Double(result.bytes) / 1e6
        out += "gradalert scan \(paths.joined(separator: " ")): \(Self.count(result.reports.count, "run")), \(Self.count(result.files, "file")), \(NumberFormat.fixed(megabytes, decimals: 2)) MB in \(NumberFormat.fixed(result.seconds, decimals: 2)) s\n\n"
        let width = min(40, result.reports.map(\.run.count).max() ?? 10)
        var hidden = 0
        for report in result.reports {
            let verdict = report.verdict
            let mark: String
            switch verdict {
            case .healthy: mark = paint("✓", "32")
            case .warning: mark = paint("!", "33")
            case .exploding, .nonfinite: mark = paint("✗", "31;1")
            }
            var line = "\(mark) \(report.run.padding(toLength: max(width, report.run.count), withPad: " ", startingAt: 0))  "
            line += paint(verdict.rawValue.uppercased().padding(toLength: 10, withPad: " ", startingAt: 0), verdictColour(verdict))
            if let first = report.firstAlert {
                line += " first alert at step \(first.alert.step)"
                if let origin = report.origin { line += ", origin \(origin)" }
            } else if report.gradientSeries.isEmpty && report.lossSeries.isEmpty {
                line += " no gradient or loss series found"
            } else {
                line += " \(report.gradientSeries.count) gradient, \(report.lossSeries.count) loss series"
            }
            if report.segments > 1 { line += " [\(report.segments) segments: the job restarted]" }
            if report.streams > 1 { line += " [\(report.streams) concurrent writers]" }
            out += line + "\n"
            // Every alert up to a limit; remedies once per kind (they repeat otherwise).
            var advised: Set<String> = []
            for (index, scanAlert) in report.alerts.enumerated() {
                if scanAlert.superseded { hidden += 1 }
                guard index < maxAlertsPerRun else { continue }
                let key = "\(scanAlert.alert.kind)-\(scanAlert.alert.role)"
                out += alertLines(scanAlert, withRemedies: !advised.contains(key))
                advised.insert(key)
            }
            if report.alerts.count > maxAlertsPerRun {
                out += "    … and \(report.alerts.count - maxAlertsPerRun) more alert(s) (--format json lists them all)\n"
            }
            for diagnostic in report.diagnostics {
                out += "    " + paint("damaged", "35") + " \(diagnostic.file) @\(diagnostic.offset): \(diagnostic.problem.rawValue): \(diagnostic.message)\n"
            }
        }
        let counts = Dictionary(grouping: result.reports, by: \.verdict).mapValues(\.count)
        out += "\n\(Self.count(result.reports.count, "run")): " + [RunReport.Verdict.nonfinite, .exploding, .warning, .healthy].compactMap { verdict in
            counts[verdict].map { "\($0) \(verdict.rawValue)" }
        }.joined(separator: ", ") + "\n"
        if hidden > 0 {
            out += "\(hidden) alert(s) are in a segment that a restart overwrote: TensorBoard will not show them, but they happened.\n"
        }
        return out
    }

    /// "1 run", "2 runs".
    static func count(_ number: Int, _ noun: String) -> String { number == 1 ? "1 \(noun)" : "\(number) \(noun)s" }

    func alertLines(_ scanAlert: RunAlert, run: String? = nil, withRemedies: Bool = true) -> String {
        let alert = scanAlert.alert
        var head = "    step \(alert.step)"
        if let run { head = "\(run) step \(alert.step)" }
        var line = "\(head)  " + paint("\(alert.kind.rawValue) \(alert.severity.rawValue)", alert.severity == .critical ? "31" : "33")
        line += "  \(alert.message)"
        if let origin = alert.origin, origin != alert.series { line += "; origin \(origin)" }
        if scanAlert.superseded {
            line += paint(" [segment \(scanAlert.segment), overwritten by a restart: TensorBoard will not show it]", "2")
        } else if scanAlert.segment > 0 {
            line += " [segment \(scanAlert.segment)]"
        }
        if scanAlert.stream > 0 { line += " [writer \(scanAlert.stream + 1)]" }
        var text = line + "\n"
        if withRemedies, !alert.remedies.isEmpty {
            text += "        try: " + alert.remedies.prefix(3).map(\.advice).joined(separator: "; ") + "\n"
        }
        return text
    }

    private func verdictColour(_ verdict: RunReport.Verdict) -> String {
        switch verdict {
        case .healthy: "32"
        case .warning: "33"
        case .exploding, .nonfinite: "31;1"
        }
    }
}
