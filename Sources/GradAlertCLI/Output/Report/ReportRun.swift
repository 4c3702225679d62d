import GradAlertAnalysis
import GradientDetection

/// One run as the report shows it: the scan's findings, the numbers of its table row, and the
/// body of its drawn section (nil when the run is listed in the table only).
struct ReportRun: Sendable {
    /// Its place among the runs found (anchors are `run-<index>`: nothing from the logs goes
    /// into an id).
    var index: Int
    var report: RunReport
    /// The largest finite value of the gradient-norm chart's series, and its non-finite kinds.
    var peakGradientNorm: Double?
    var gradientNonfinite: NonfiniteKinds
    /// The first writer's last loss value.
    var finalLoss: Double?
    var section: String?

    /// Scans one run as `scan` does — the detector gives the incidents — while collecting the
    /// points it sees for the pictures; draws its section when `drawsSection`, and, for a
    /// healthy run, only when `drawsHealthy`.
    static func analyse(
        _ run: DiscoveredRun, index: Int, classifier: TagClassifier, configuration: DetectorConfiguration,
        drawsSection: Bool, drawsHealthy: Bool
    ) -> ReportRun {
        let analyzer = RunAnalyzer(name: run.name, classifier: classifier, configuration: configuration)
        let series = RunSeries()
        analyzer.pointSink = { point, stream in series.add(point, stream: stream) }
        for file in run.files { analyzer.read(file) }
        let report = analyzer.finish()
        let peak = series.gradientPeak
        let drawn = drawsSection && (drawsHealthy || report.verdict != .healthy)
        return ReportRun(
            index: index, report: report, peakGradientNorm: peak.value, gradientNonfinite: peak.nonfinite,
            finalLoss: series.finalLoss, section: drawn ? RunSection(report: report, series: series).html() : nil)
    }

    // MARK: - The table row, in words (HTML and Markdown escape them)

    /// Runs that need a look (any verdict but healthy) come first in the table.
    var needsAttention: Bool { report.verdict != .healthy }

    var firstIncidentStep: String { report.incidents.first.map { String($0.incident.openingStep) } ?? "–" }

    var originLayer: String { report.incidents.lazy.compactMap(\.incident.originLayer).first ?? "–" }

    /// "3.38e12", "3.38e12 · NaN", "NaN · +Inf" (nothing finite), "–" (no gradient norm).
    var peakText: String {
        var parts = peakGradientNorm.map { [NumberFormat.short($0)] } ?? []
        parts += gradientNonfinite.names
        return parts.isEmpty ? "–" : parts.joined(separator: " · ")
    }

    var finalLossText: String { finalLoss.map { NumberFormat.short($0) } ?? "–" }

    /// What its section's summary says after the verdict, as scan's verdict line does.
    var summaryLine: String {
        var line: String
        if let first = report.incidents.first {
            line = "\(ScanText.count(report.incidents.count, "incident")), first at step \(first.incident.openingStep)"
            if let layer = report.incidents.lazy.compactMap(\.incident.originLayer).first { line += ", origin \(layer)" }
        } else if let reason = report.noDataReason {
            line = reason
        } else {
            line = "\(report.gradientSeries.count) gradient, \(report.lossSeries.count) loss series"
        }
        if report.segments > 1 { line += " · \(report.segments) segments: the job restarted" }
        if report.streams > 1 { line += " · \(report.streams) concurrent writers" }
        return line
    }
}
