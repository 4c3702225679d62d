import GradAlertAnalysis
import GradientDetection

/// The body of a run's section on the page (the page wraps it in a `<details>` with the run's
/// verdict as its summary): each incident in words — headline, detail, what to try — then the
/// gradient norm chart, the loss chart, the gradient-flow heatmap, and notes on what is not drawn.
struct RunSection {
    var report: RunReport
    var series: RunSeries

    /// Incidents written out per run (all are drawn on the charts, up to `ChartLayout.maxIncidents`).
    static let incidentLimit = 20

    func html() -> String {
        var html = ""
        for (index, entry) in report.incidents.prefix(Self.incidentLimit).enumerated() {
            html += incident(number: index + 1, entry)
        }
        if report.incidents.count > Self.incidentLimit {
            html += "<p class=\"note\">… and \(report.incidents.count - Self.incidentLimit) more incidents: <code>gradalert scan</code> lists them all.</p>"
        }
        guard let first = series.firstStep, let last = series.lastStep else {
            html += "<p class=\"nochart\">No gradient norm or loss values to draw.</p>"
            return html + notes()
        }
        let steps = StepScale(first: first, last: last)
        let keys = Array(series.global.keys) + Array(series.firstLayer.keys) + Array(series.loss.keys)
        let labelsSegments = Set(keys.map(\.segment)).count > 1
        let labelsStreams = Set(keys.map(\.stream)).count > 1
        func lines(_ buckets: [RunSeries.LineKey: StepBuckets]) -> [LineChart.Line] {
            buckets.keys.sorted().prefix(ChartLayout.maxLines).map { (key: RunSeries.LineKey) -> LineChart.Line in
                var parts: [String] = []
                if labelsStreams { parts.append("writer \(key.stream + 1)") }
                if labelsSegments { parts.append("segment \(key.segment)") }
                return LineChart.Line(label: parts.joined(separator: ", "), buckets: buckets[key]!)
            }
        }

        if let gradient = series.gradientLines {
            let chart = LineChart(kind: .norm, series: gradient.series, lines: lines(gradient.lines), logarithmic: true, steps: steps, incidents: report.incidents)
            let title = gradient.isGlobal ? "Global gradient norm" : "Gradient norm"
            let note = gradient.isGlobal ? "" : " (the run logs no global norm)"
            html += figure("<b>\(title)</b> · \(HTMLText.escape(gradient.series))\(note) · log scale", chart.svg())
        } else {
            html += "<p class=\"nochart\">No gradient norm in this run.</p>"
        }

        if let lossName = series.lossName, !series.loss.isEmpty {
            let positive = series.loss.values.allSatisfy { ($0.finiteRange(positive: false)?.low ?? 1) > 0 }
            let chart = LineChart(kind: .loss, series: lossName, lines: lines(series.loss), logarithmic: positive, steps: steps, incidents: report.incidents)
            let scale = positive ? "log scale" : "linear scale (it has values ≤ 0)"
            html += figure("<b>Loss</b> · \(HTMLText.escape(lossName)) · \(scale)", chart.svg())
        } else {
            html += "<p class=\"nochart\">No loss in this run.</p>"
        }

        if !series.layerNames.isEmpty {
            // The origins of incidents first, then the others, in the order they were logged.
            let origins = Set(report.incidents.compactMap(\.incident.origin))
            let chosen = Set((series.layerNames.filter { origins.contains($0) } + series.layerNames.filter { !origins.contains($0) })
                .prefix(ChartLayout.heatmapMaxRows))
            let rows = series.layerNames.filter { chosen.contains($0) }.map { Heatmap.Row(series: $0, buckets: series.layers[$0]!) }
            let heatmap = Heatmap(rows: rows, steps: steps, incidents: report.incidents, origins: origins)
            let left = series.layerNames.count - rows.count + series.layersLeftOut.count
            let more = left > 0 ? "; \(left) more layer\(left == 1 ? "" : "s") not drawn" : ""
            html += figure("<b>Gradient flow</b> · gradient norm per layer and step, colour = log10 norm\(more)", heatmap.svg())
        }
        return html + notes()
    }

    private func figure(_ caption: String, _ svg: String) -> String {
        "<figure><figcaption>\(caption)</figcaption>\(svg)</figure>"
    }

    /// An incident in words: number, severity and where; headline; detail; every remedy.
    private func incident(number: Int, _ entry: RunIncident) -> String {
        let incident = entry.incident
        var context: [String] = []
        if entry.superseded {
            context.append("segment \(incident.segment), overwritten by a restart: TensorBoard will not show it")
        } else if incident.segment > 0 {
            context.append("segment \(incident.segment)")
        }
        if entry.stream > 0 { context.append("writer \(entry.stream + 1)") }
        let style = entry.superseded ? "superseded" : incident.severity.rawValue
        var html = "<article class=\"incident \(style)\"><h3>#\(number) · \(incident.severity.rawValue)"
        if !context.isEmpty { html += " · " + HTMLText.escape(context.joined(separator: "; ")) }
        html += "</h3><p class=\"headline\">\(HTMLText.escape(incident.headline))</p>"
        html += "<p class=\"detail\">\(HTMLText.escape(incident.detail))</p>"
        if !incident.remedies.isEmpty {
            html += "<ol class=\"remedies\">" + incident.remedies.map { "<li>\(HTMLText.escape($0.advice))</li>" }.joined() + "</ol>"
        }
        return html + "</article>"
    }

    /// What is not drawn, and why.
    private func notes() -> String {
        var notes: [String] = []
        if report.segments > 1 {
            notes.append("The job restarted: \(report.segments) segments (steps went back). Each segment is its own line; incidents a restart overwrote are grey.")
        }
        if report.streams > 1 {
            var note = "\(report.streams) writers logged into this run at the same time (data-parallel ranks): each is its own line"
            note += series.streamsLeftOut ? ", for the first \(RunSeries.maxStreams); " : "; "
            notes.append(note + "the heatmap shows the first writer.")
        }
        let lineCount = max(series.gradientLines?.lines.count ?? 0, series.loss.count)
        if lineCount > ChartLayout.maxLines {
            notes.append("Only the first \(ChartLayout.maxLines) of \(lineCount) lines are drawn.")
        }
        if !report.diagnostics.isEmpty {
            let count = report.diagnostics.count
            notes.append("\(count) damaged spot\(count == 1 ? "" : "s") in its files (every intact record was read): <code>gradalert inspect</code> lists \(count == 1 ? "it" : "them").")
        }
        guard !notes.isEmpty else { return "" }
        return notes.map { "<p class=\"note\">\($0)</p>" }.joined()
    }
}
