import GradAlertAnalysis
import GradientDetection

/// A series over steps as an inline SVG line chart: a log (or linear) y axis with ticks, the
/// step axis, each incident's span shaded with its opening step marked and numbered, the line
/// drawn as each pixel column's smallest and largest value, single points left between breaks as
/// dots, and non-finite values as coloured bands above the plot (one row per kind: NaN, +Inf,
/// -Inf); on a log scale, zeros and negative values as a grey band at the plot's foot.
///
/// The `<svg>` carries its scales — `data-x="firstStep lastStep left right"` and
/// `data-y="log|linear low high bottom top"` (log10 units on a log scale) — so a test or a script
/// can turn the drawn path back into steps and values.
struct LineChart {
    enum Kind: String {
        case norm, loss
    }

    struct Line {
        /// "segment 1", "writer 2, segment 0"; empty when the chart has one line.
        var label: String
        var buckets: StepBuckets
    }

    var kind: Kind
    /// The tag drawn.
    var series: String
    var lines: [Line]
    var logarithmic: Bool
    var steps: StepScale
    var incidents: [RunIncident]

    static let colours = ["#1f6fb4", "#e377c2", "#2ca02c", "#8c564b", "#17becf", "#bcbd22", "#7f7f7f", "#ff7f0e"]
    static let nonfiniteColours: [NonfiniteKinds: String] = [.nan: "#d62728", .positiveInfinity: "#7b3294", .negativeInfinity: "#8c564b"]

    private var plotTop: Int { ChartLayout.lineTop }
    private var plotBottom: Int { ChartLayout.lineHeight - ChartLayout.lineBottom }

    func svg() -> String {
        let width = ChartLayout.width
        let height = ChartLayout.lineHeight
        var low = Double.infinity
        var high = -Double.infinity
        for line in lines {
            if let range = line.buckets.finiteRange(positive: logarithmic) {
                low = min(low, range.low)
                high = max(high, range.high)
            }
        }
        let hasValues = low <= high
        if !hasValues { (low, high) = logarithmic ? (1.0, 10.0) : (0.0, 1.0) }
        let values = ValueScale(low: low, high: high, logarithmic: logarithmic, bottom: Double(plotBottom), top: Double(plotTop))

        var svg = "<svg class=\"chart \(kind.rawValue)\" viewBox=\"0 0 \(width) \(height)\" width=\"\(width)\" height=\"\(height)\""
        svg += " role=\"img\" data-series=\"\(HTMLText.escape(series))\" data-x=\"\(steps.attribute)\" data-y=\"\(values.attribute)\">"
        svg += "<title>\(HTMLText.escape(series))</title>"
        svg += "<rect class=\"frame\" x=\"\(ChartLayout.left)\" y=\"\(plotTop)\" width=\"\(ChartLayout.plotWidth)\" height=\"\(plotBottom - plotTop)\"/>"
        svg += Self.incidentMarks(incidents, steps: steps, top: plotTop, bottom: plotBottom, spans: true)
        svg += valueAxis(values)
        svg += Self.stepAxis(steps, at: plotBottom)

        var legend: [(colour: String, label: String)] = []
        var kindsSeen = NonfiniteKinds()
        var nonPositiveSeen = false
        for (index, line) in lines.enumerated() {
            let colour = Self.colours[index % Self.colours.count]
            let (path, dots) = Self.pathData(line.buckets.columns(steps, logarithmic: logarithmic), steps: steps, values: values)
            if !path.isEmpty { svg += "<path class=\"line\" stroke=\"\(colour)\" d=\"\(path)\"/>" }
            if !dots.isEmpty { svg += "<path class=\"dots\" stroke=\"\(colour)\" d=\"\(dots)\"/>" }
            for (row, nonfinite) in NonfiniteKinds.each.enumerated() {
                for stretch in line.buckets.stretches(of: nonfinite) {
                    kindsSeen.insert(nonfinite)
                    svg += band(stretch, y: plotTop - 7 - 6 * row, height: 5, colour: Self.nonfiniteColours[nonfinite]!, what: nonfinite.name)
                }
            }
            if logarithmic {
                for stretch in line.buckets.stretches(of: nil) {
                    nonPositiveSeen = true
                    svg += band(stretch, y: plotBottom - 5, height: 5, colour: nil, what: "≤ 0")
                }
            }
            legend.append((colour, line.label))
        }

        // The legend, in the left margin.
        svg += "<g class=\"legend\">"
        var y = plotTop + 10
        if lines.count > 1 {
            for entry in legend {
                svg += "<path d=\"M6 \(y - 4)h14\" stroke=\"\(entry.colour)\"/><text x=\"24\" y=\"\(y)\">\(HTMLText.escape(Self.clip(entry.label, 20)))</text>"
                y += 15
            }
        }
        for nonfinite in NonfiniteKinds.each where kindsSeen.contains(nonfinite) {
            svg += "<rect x=\"6\" y=\"\(y - 7)\" width=\"14\" height=\"5\" fill=\"\(Self.nonfiniteColours[nonfinite]!)\"/><text x=\"24\" y=\"\(y)\">\(nonfinite.name)</text>"
            y += 15
        }
        if nonPositiveSeen {
            svg += "<rect class=\"np\" x=\"6\" y=\"\(y - 7)\" width=\"14\" height=\"5\"/><text x=\"24\" y=\"\(y)\">≤ 0 (off the log scale)</text>"
            y += 15
        }
        if !hasValues {
            svg += "<text class=\"empty\" x=\"\(ChartLayout.left + ChartLayout.plotWidth / 2)\" y=\"\((plotTop + plotBottom) / 2)\">no finite value</text>"
        }
        svg += "</g></svg>"
        return svg
    }

    private func valueAxis(_ values: ValueScale) -> String {
        var axis = "<g class=\"axis y\">"
        for tick in values.ticks() {
            let y = values.position(tick.position)
            axis += "<path class=\"grid\" d=\"M\(ChartLayout.left) \(ChartLayout.coordinate(y))h\(ChartLayout.plotWidth)\"/>"
            axis += "<text x=\"\(ChartLayout.left - 6)\" y=\"\(ChartLayout.coordinate(y + 4))\">\(HTMLText.escape(tick.label))</text>"
        }
        return axis + "</g>"
    }

    /// A band over a stretch of steps, at least 4 pixels wide, with its steps as a tooltip.
    private func band(_ stretch: ClosedRange<Int64>, y: Int, height: Int, colour: String?, what: String) -> String {
        let x0 = steps.x(stretch.lowerBound) - 2
        let x1 = steps.x(stretch.upperBound) + 2
        let fill = colour.map { " fill=\"\($0)\"" } ?? " class=\"np\""
        let at = stretch.lowerBound == stretch.upperBound ? "step \(stretch.lowerBound)" : "steps \(stretch.lowerBound)–\(stretch.upperBound)"
        return "<rect x=\"\(ChartLayout.coordinate(x0))\" y=\"\(y)\" width=\"\(ChartLayout.coordinate(x1 - x0))\" height=\"\(height)\"\(fill)><title>\(what) at \(at)</title></rect>"
    }

    /// The step axis under a plot whose bottom is at `y`.
    static func stepAxis(_ steps: StepScale, at y: Int) -> String {
        var axis = "<g class=\"axis x\">"
        for tick in steps.ticks() {
            let x = ChartLayout.coordinate(steps.x(tick))
            axis += "<path d=\"M\(x) \(y)v4\"/><text x=\"\(x)\" y=\"\(y + 16)\">\(stepLabel(tick))</text>"
        }
        axis += "<text class=\"unit\" x=\"\(ChartLayout.left - 6)\" y=\"\(y + 16)\">step</text>"
        return axis + "</g>"
    }

    /// Each incident's span shaded (with `spans`), and a dashed line at its opening step; the
    /// first `ChartLayout.labelledIncidents` numbered as in the text. Grey when a restart
    /// overwrote it.
    static func incidentMarks(_ incidents: [RunIncident], steps: StepScale, top: Int, bottom: Int, spans: Bool) -> String {
        var marks = "<g class=\"incidents\">"
        for (index, entry) in incidents.prefix(ChartLayout.maxIncidents).enumerated() {
            let incident = entry.incident
            let style = entry.superseded ? "sup" : incident.severity.rawValue
            let x0 = steps.x(incident.openingStep)
            if spans {
                let x1 = incident.closingStep.map { steps.x($0) } ?? steps.right
                marks += "<rect class=\"span \(style)\" x=\"\(ChartLayout.coordinate(x0))\" y=\"\(top)\" width=\"\(ChartLayout.coordinate(max(2, x1 - x0)))\" height=\"\(bottom - top)\"/>"
            }
            marks += "<path class=\"open \(style)\" d=\"M\(ChartLayout.coordinate(x0)) \(top)V\(bottom)\"/>"
            if spans, index < ChartLayout.labelledIncidents {
                marks += "<text class=\"label \(style)\" x=\"\(ChartLayout.coordinate(x0 + 3))\" y=\"\(top + 11)\">#\(index + 1)</text>"
            }
        }
        return marks + "</g>"
    }

    /// The line's path data and its lone points' (drawn as dots): each column's points in step
    /// order, joined; a column that breaks ends the line before it and after it (its own points,
    /// if any, stand alone).
    static func pathData(_ columns: [PlotColumn], steps: StepScale, values: ValueScale) -> (line: String, dots: String) {
        var segments: [[(step: Int64, value: Double)]] = []
        var current: [(step: Int64, value: Double)] = []
        for column in columns {
            let points = column.points
            if column.breaks {
                if !current.isEmpty { segments.append(current) }
                current = []
                if !points.isEmpty { segments.append(points) }
                continue
            }
            current += points
        }
        if !current.isEmpty { segments.append(current) }
        var line = ""
        var dots = ""
        for segment in segments {
            if segment.count == 1 {
                dots += "M\(ChartLayout.coordinate(steps.x(segment[0].step))) \(ChartLayout.coordinate(values.y(segment[0].value)))h0"
                continue
            }
            for (index, point) in segment.enumerated() {
                line += (index == 0 ? "M" : "L") + "\(ChartLayout.coordinate(steps.x(point.step))) \(ChartLayout.coordinate(values.y(point.value)))"
            }
        }
        return (line, dots)
    }

    /// A step tick as an integer (in scientific notation beyond what Int64 holds).
    static func stepLabel(_ tick: Double) -> String {
        abs(tick) < 9e18 ? String(Int64(tick.rounded())) : NumberFormat.short(tick)
    }

    /// The end of a long name, behind an ellipsis.
    static func clip(_ text: String, _ length: Int) -> String {
        text.count <= length ? text : "…" + text.suffix(length - 1)
    }
}
