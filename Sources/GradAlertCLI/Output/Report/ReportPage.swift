import Foundation
import GradAlertAnalysis
import GradientDetection

/// The HTML page of `gradalert report`: one self-contained file (inline CSS and SVG; no script,
/// nothing loaded) that opens in any browser and can be kept as a CI artifact.
///
/// The summary table of every run comes first — runs that need a look (any verdict but healthy)
/// before healthy ones, each group in the order runs are found — then one collapsible section
/// (`<details>`) per drawn run. Size is bounded: a table row is about 0.25 KB, and at most
/// `drawnRunLimit` runs are drawn; beyond that many runs, healthy runs get their table row only
/// (`ReportRun.analyse` does not draw them), and alerting runs past the limit are listed, not
/// drawn. A line above the table says so.
struct ReportPage {
    var paths: [String]
    var runs: [ReportRun]

    static let drawnRunLimit = 200
    /// Alerting runs' sections start open when there are at most this many of them.
    static let openSectionLimit = 20

    /// The table's order: runs that need a look first.
    var ordered: [ReportRun] { runs.filter(\.needsAttention) + runs.filter { !$0.needsAttention } }

    func html() -> String {
        let ordered = self.ordered
        var drawn: Set<Int> = []
        for run in ordered where run.section != nil && drawn.count < Self.drawnRunLimit { drawn.insert(run.index) }
        let openAlerting = ordered.filter { drawn.contains($0.index) && $0.needsAttention }.count <= Self.openSectionLimit

        var html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        html += "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        html += "<meta name=\"generator\" content=\"gradalert \(GradAlert.version)\">"
        html += "<title>gradalert report: \(HTMLText.escape(paths.joined(separator: " ")))</title>"
        html += "<style>\n\(ReportStyle.css)</style></head>\n<body><main>\n"
        html += "<h1>gradalert report</h1>\n<p class=\"sub\">\(HTMLText.escape(paths.joined(separator: " "))) · \(HTMLText.escape(Self.counts(runs)))"
        let files = runs.reduce(0) { $0 + $1.report.files }
        let megabytes = Double(runs.reduce(0) { $0 + $1.report.bytes }) / 1e6
        html += " · \(ScanText.count(files, "file")), \(NumberFormat.fixed(megabytes, decimals: 2)) MB · gradalert \(GradAlert.version)</p>\n"

        if runs.count > Self.drawnRunLimit {
            html += "<p class=\"note\">\(runs.count) runs: with more than \(Self.drawnRunLimit), healthy runs are listed in the table only, "
            html += "and at most \(Self.drawnRunLimit) runs are drawn (\(drawn.count) here; \(runs.count - drawn.count) listed only). "
            html += "<code>gradalert report</code> on a sub-folder draws its runs.</p>\n"
        }
        html += "<table class=\"runs\"><thead><tr><th>run</th><th>verdict</th><th class=\"n\">incidents</th><th class=\"n\">first incident</th>"
        html += "<th>origin layer</th><th class=\"n\">peak global norm</th><th class=\"n\">final loss</th></tr></thead>\n<tbody>\n"
        for run in ordered { html += row(run, linked: drawn.contains(run.index)) }
        html += "</tbody></table>\n"

        html += "<h2>Runs</h2>\n"
        for run in ordered where drawn.contains(run.index) {
            guard let section = run.section else { continue }
            let open = openAlerting && run.needsAttention ? " open" : ""
            let verdict = run.report.verdict
            html += "<details class=\"run\" id=\"run-\(run.index)\"\(open)><summary><span class=\"v v-\(verdict.rawValue)\">\(ScanText.verdictName(verdict))</span> "
            html += "\(HTMLText.escape(run.report.run)) <span class=\"meta\">\(HTMLText.escape(run.summaryLine))</span></summary>\n"
            html += section + "</details>\n"
        }
        if drawn.isEmpty { html += "<p class=\"note\">No run is drawn.</p>\n" }
        html += "<footer>Charts: the global gradient norm and the loss at every step (log scales; a loss with values ≤ 0 on a linear one), "
        html += "each pixel column drawn from its smallest to its largest value; shaded: incidents (#n as in the text), dashed: where each "
        html += "opened; bands above a chart: NaN and ±Inf. Heatmap: the largest gradient norm per layer and 4-pixel column of steps. "
        html += "Made by <code>gradalert report</code> \(GradAlert.version).</footer>\n</main></body></html>\n"
        return html
    }

    private func row(_ run: ReportRun, linked: Bool) -> String {
        let report = run.report
        let name = HTMLText.escape(report.run)
        var row = "<tr><td class=\"run\">" + (linked ? "<a href=\"#run-\(run.index)\">\(name)</a>" : name) + "</td>"
        row += "<td><span class=\"v v-\(report.verdict.rawValue)\">\(ScanText.verdictName(report.verdict))</span></td>"
        row += "<td class=\"n\">\(report.incidents.count)</td><td class=\"n\">\(run.firstIncidentStep)</td>"
        row += "<td>\(HTMLText.escape(run.originLayer))</td><td class=\"n\">\(HTMLText.escape(run.peakText))</td>"
        row += "<td class=\"n\">\(HTMLText.escape(run.finalLossText))</td></tr>\n"
        return row
    }

    /// "17 runs: 9 nonfinite, 8 healthy"
    static func counts(_ runs: [ReportRun]) -> String {
        let counts = Dictionary(grouping: runs, by: \.report.verdict).mapValues(\.count)
        let parts = RunReport.Verdict.allCases.reversed().compactMap { verdict in
            counts[verdict].map { "\($0) \(ScanText.verdictName(verdict))" }
        }
        return "\(ScanText.count(runs.count, "run")): " + parts.joined(separator: ", ")
    }
}
