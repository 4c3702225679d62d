import GradAlertAnalysis
import GradientDetection

/// `gradalert report --format markdown`: a short summary for a CI job's page (GitHub's
/// `$GITHUB_STEP_SUMMARY`, which takes up to 1 MiB): the runs table, then each incident's
/// headline and what to try. Everything from the logs is escaped for Markdown table cells
/// (`MarkdownText`). With more than `ReportPage.drawnRunLimit` runs, only runs that need a look are
/// listed (at most that many), and at most `incidentLimit` incidents are written out; a line says
/// how many were left out.
struct ReportMarkdown {
    var paths: [String]
    var runs: [ReportRun]

    static let incidentLimit = 50

    func document() -> String {
        let page = ReportPage(paths: paths, runs: runs)
        let many = runs.count > ReportPage.drawnRunLimit
        let listed = Array(page.ordered.filter { !many || $0.needsAttention }.prefix(ReportPage.drawnRunLimit))

        var text = "## gradalert report\n\n"
        text += "**\(MarkdownText.escape(ReportPage.counts(runs)))** in \(MarkdownText.escape(paths.joined(separator: " ")))\n\n"
        text += "| run | verdict | incidents | first incident | origin layer | peak global norm | final loss |\n"
        text += "| --- | --- | ---: | ---: | --- | ---: | ---: |\n"
        for run in listed {
            let cells = [
                MarkdownText.escape(run.report.run), Self.mark(run.report.verdict) + " " + ScanText.verdictName(run.report.verdict),
                String(run.report.incidents.count), run.firstIncidentStep, MarkdownText.escape(run.originLayer),
                MarkdownText.escape(run.peakText), MarkdownText.escape(run.finalLossText),
            ]
            text += "| " + cells.joined(separator: " | ") + " |\n"
        }
        if listed.count < runs.count {
            let healthy = runs.filter { !$0.needsAttention }.count
            text += "\n\(runs.count - listed.count) more runs are not listed (\(healthy) healthy in all).\n"
        }

        var written = 0
        var total = 0
        var incidents = ""
        for run in listed {
            for (index, entry) in run.report.incidents.enumerated() {
                total += 1
                guard written < Self.incidentLimit else { continue }
                written += 1
                let incident = entry.incident
                incidents += "- **\(MarkdownText.escape(run.report.run))** #\(index + 1), step \(incident.openingStep), \(incident.severity.rawValue)"
                if entry.superseded { incidents += " (overwritten by a restart: TensorBoard will not show it)" }
                incidents += ": \(MarkdownText.escape(incident.headline))"
                if let advice = incident.advice() { incidents += "  \n  \(MarkdownText.escape(advice))" }
                incidents += "\n"
            }
        }
        if total > 0 {
            text += "\n### Incidents\n\n" + incidents
            if total > written {
                text += "- … and \(total - written) more: `gradalert scan` lists every incident.\n"
            }
        }
        return text
    }

    static func mark(_ verdict: RunReport.Verdict) -> String {
        switch verdict {
        case .healthy: "✓"
        case .warning: "!"
        case .exploding, .nonfinite: "✗"
        case .noData: "?"
        }
    }
}
