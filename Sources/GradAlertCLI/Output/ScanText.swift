import Foundation
import GradAlertAnalysis
import GradientDetection
import TensorBoardEvents

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
