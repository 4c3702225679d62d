import Foundation
import GradAlertAnalysis
import GradientDetection
import TensorBoardEvents

/// Terminal output of `gradalert scan` and `watch`: per run a verdict, then one short block per
/// incident (what, where, since when, which layer first, what to try); every alert only when asked.
struct ScanText {
    var colour: Bool
    /// List every alert under its run (`--alerts`), not only the incidents.
    var listAlerts = false

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
            out += verdictLine(report, width: width)
            for incident in report.incidents {
                if incident.superseded { hidden += 1 }
                out += incidentLines(incident)
            }
            if listAlerts {
                for alert in report.alerts { out += alertLines(alert, withRemedies: false) }
            }
            for diagnostic in report.diagnostics {
                out += "    " + paint("damaged", "35") + " \(diagnostic.file) @\(diagnostic.offset): \(diagnostic.problem.rawValue): \(diagnostic.message)\n"
            }
        }
        let counts = Dictionary(grouping: result.reports, by: \.verdict).mapValues(\.count)
        out += "\n\(Self.count(result.reports.count, "run")): " + RunReport.Verdict.allCases.reversed().compactMap { verdict in
            counts[verdict].map { "\($0) \(Self.verdictName(verdict))" }
        }.joined(separator: ", ") + "\n"
        if hidden > 0 {
            out += "\(Self.count(hidden, "incident")) \(hidden == 1 ? "is" : "are") in a segment that a restart overwrote: TensorBoard will not show \(hidden == 1 ? "it" : "them"), but \(hidden == 1 ? "it" : "they") happened.\n"
        }
        if !listAlerts, result.reports.contains(where: { !$0.alerts.isEmpty }) {
            out += "every alert behind the incidents: --alerts (or --format json)\n"
        }
        return out
    }

    /// "✗ run  EXPLODING  2 incidents, first at step 42 in fc2.weight"
    private func verdictLine(_ report: RunReport, width: Int) -> String {
        let verdict = report.verdict
        var line = "\(mark(verdict)) \(report.run.padding(toLength: max(width, report.run.count), withPad: " ", startingAt: 0))  "
        line += paint(Self.verdictName(verdict).uppercased().padding(toLength: 10, withPad: " ", startingAt: 0), verdictColour(verdict))
        if let first = report.incidents.first {
            line += " \(Self.count(report.incidents.count, "incident")), first at step \(first.incident.openingStep)"
            if let layer = report.incidents.lazy.compactMap(\.incident.originLayer).first { line += ", origin \(layer)" }
        } else if let reason = report.noDataReason {
            line += " " + reason
        } else {
            line += " \(report.gradientSeries.count) gradient, \(report.lossSeries.count) loss series"
        }
        if report.segments > 1 { line += " [\(report.segments) segments: the job restarted]" }
        if report.streams > 1 { line += " [\(report.streams) concurrent writers]" }
        return line + "\n"
    }

    /// At most four lines: what, where and since when; the peak; what to try.
    func incidentLines(_ entry: RunIncident, run: String? = nil, change: IncidentEvent.Change? = nil) -> String {
        let incident = entry.incident
        let mark = incident.severity == .critical ? paint("✗", "31") : paint("!", "33")
        var head = run.map { "\($0)  " } ?? "    "
        if let change { head += paint("incident \(change.rawValue)", change == .closed ? "32" : (incident.severity == .critical ? "31" : "33")) + ": " }
        let line = head + "\(mark) \(incident.headline)" + placement(segment: incident.segment, superseded: entry.superseded, stream: entry.stream)
        var text = line + "\n"
        let indent = run == nil ? "      " : "    "
        text += indent + incident.detail + "\n"
        if change != .closed, let advice = incident.advice() { text += indent + advice + "\n" }
        return text
    }

    /// Where an alert or incident sits when the run is not one plain file: a later segment (after a
    /// restart), one overwritten by a restart, or a second concurrent writer.
    func placement(segment: Int, superseded: Bool, stream: Int) -> String {
        var text = ""
        if superseded {
            text += paint(" [segment \(segment), overwritten by a restart: TensorBoard will not show it]", "2")
        } else if segment > 0 {
            text += " [segment \(segment)]"
        }
        if stream > 0 { text += " [writer \(stream + 1)]" }
        return text
    }

    /// "the event file could not be read", "none of the 3 event files could be read".
    static func noneReadable(_ files: Int) -> String {
        files == 1 ? "the event file could not be read" : "none of the \(files) event files could be read"
    }

    static func count(_ number: Int, _ noun: String) -> String { number == 1 ? "1 \(noun)" : "\(number) \(noun)s" }

    static func verdictName(_ verdict: RunReport.Verdict) -> String {
        verdict == .noData ? "no data" : verdict.rawValue
    }

    func alertLines(_ scanAlert: RunAlert, run: String? = nil, withRemedies: Bool = true) -> String {
        let alert = scanAlert.alert
        var head = "    step \(alert.step)"
        if let run { head = "\(run) step \(alert.step)" }
        var line = "\(head)  " + paint("\(alert.kind.rawValue) \(alert.severity.rawValue)", alert.severity == .critical ? "31" : "33")
        line += "  \(alert.message)"
        if let origin = alert.origin, origin != alert.series { line += "; origin \(origin)" }
        line += placement(segment: scanAlert.segment, superseded: scanAlert.superseded, stream: scanAlert.stream)
        var text = line + "\n"
        if withRemedies, !alert.remedies.isEmpty {
            text += "        try: " + alert.remedies.prefix(3).map(\.advice).joined(separator: "; ") + "\n"
        }
        return text
    }

    private func mark(_ verdict: RunReport.Verdict) -> String {
        switch verdict {
        case .noData: paint("?", "35")
        case .healthy: paint("✓", "32")
        case .warning: paint("!", "33")
        case .exploding, .nonfinite: paint("✗", "31;1")
        }
    }

    private func verdictColour(_ verdict: RunReport.Verdict) -> String {
        switch verdict {
        case .noData: "35"
        case .healthy: "32"
        case .warning: "33"
        case .exploding, .nonfinite: "31;1"
        }
    }
}
