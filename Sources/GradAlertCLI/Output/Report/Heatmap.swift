import Foundation
import GradAlertAnalysis
import GradientDetection

/// Gradient flow as an inline SVG heatmap: one row per layer, one cell per 4-pixel column of
/// steps, coloured by the log10 of the largest norm in the cell (so a spike is never averaged
/// away) on a 12-step viridis scale; non-finite cells red, zero norms grey, steps without a value
/// blank. A sparsely logged layer (a histogram every 20 steps) holds its last value until the
/// next. Layer names on the left (the origin of an incident in red), each opening step as a
/// dashed line, the colour legend below.
///
/// Cells of one colour are one `<path>` of horizontal strokes (class `cells`, and `nf` or `zero`
/// for the special ones), so a row of equal cells costs a few bytes.
struct Heatmap {
    struct Row {
        /// The series' tag.
        var series: String
        var buckets: StepBuckets
    }

    var rows: [Row]
    var steps: StepScale
    var incidents: [RunIncident]
    /// Tags that were the origin of an incident.
    var origins: Set<String>

    static let levels = 12
    static let palette: [String] = (0..<Heatmap.levels).map { Heatmap.viridis(Double($0) / Double(Heatmap.levels - 1)) }
    static let nonfiniteColour = "#e3120b"
    static let zeroColour = "#c8c8c8"

    private enum Cell: Equatable {
        case empty, value(Double), zero, nonfinite
    }

    private enum Key: Hashable, Comparable {
        case level(Int), zero, nonfinite
    }

    func svg() -> String {
        let rowHeight = ChartLayout.heatmapRowHeight
        let top = ChartLayout.heatmapTop
        let bottom = top + rows.count * rowHeight
        let legendY = bottom + 36
        let height = legendY + 30
        let (grid, low, high) = cellGrid()
        let paths = strokes(grid, low: low, high: high, top: top)

        var svg = "<svg class=\"chart heatmap\" viewBox=\"0 0 \(ChartLayout.width) \(height)\" width=\"\(ChartLayout.width)\" height=\"\(height)\""
        svg += " role=\"img\" data-rows=\"\(rows.count)\" data-x=\"\(steps.attribute)\" data-levels=\"\(low) \(high)\">"
        svg += "<title>gradient flow: log10 gradient norm per layer and step</title>"
        svg += "<rect class=\"frame\" x=\"\(ChartLayout.left)\" y=\"\(top)\" width=\"\(ChartLayout.plotWidth)\" height=\"\(bottom - top)\"/>"
        for cellKey in paths.keys.sorted() {
            let d = paths[cellKey]!
            switch cellKey {
            case .level(let level): svg += "<path class=\"cells\" stroke=\"\(Self.palette[level])\" d=\"\(d)\"/>"
            case .zero: svg += "<path class=\"cells zero\" stroke=\"\(Self.zeroColour)\" d=\"\(d)\"/>"
            case .nonfinite: svg += "<path class=\"cells nf\" stroke=\"\(Self.nonfiniteColour)\" d=\"\(d)\"/>"
            }
        }
        svg += "<g class=\"layers\">"
        for (index, row) in rows.enumerated() {
            let y = top + index * rowHeight + rowHeight - 4
            let style = origins.contains(row.series) ? "layer origin" : "layer"
            let name = LineChart.clip(Incident.layerName(row.series), 26)
            svg += "<text class=\"\(style)\" x=\"\(ChartLayout.left - 6)\" y=\"\(y)\">\(HTMLText.escape(name))<title>\(HTMLText.escape(row.series))</title></text>"
        }
        svg += "</g>"
        svg += LineChart.incidentMarks(incidents, steps: steps, top: top, bottom: bottom, spans: false)
        svg += LineChart.stepAxis(steps, at: bottom)
        svg += legend(at: legendY, low: low, high: high)
        return svg + "</svg>"
    }

    /// One row of cells per layer: the largest value per column, then held across the gaps of
    /// sparse logging; and the log10 range of the finite values (at least one decade wide).
    private func cellGrid() -> (grid: [[Cell]], low: Double, high: Double) {
        let columns = ChartLayout.heatmapColumns
        var grid: [[Cell]] = []
        var low = Double.infinity
        var high = -Double.infinity
        for row in rows {
            var cells = [Cell](repeating: .empty, count: columns)
            for bucket in row.buckets.buckets.values {
                if bucket.hasFinite {
                    let column = steps.column(bucket.highStep, columnWidth: ChartLayout.heatmapColumnWidth)
                    switch cells[column] {
                    case .nonfinite: break
                    case .value(let value) where value >= bucket.high: break
                    case .value, .empty, .zero:
                        if bucket.high > 0 {
                            cells[column] = .value(bucket.high)
                        } else if cells[column] == .empty {
                            cells[column] = .zero
                        }
                    }
                }
                if let nonfinite = bucket.nonfiniteSteps {
                    cells[steps.column(nonfinite.lowerBound, columnWidth: ChartLayout.heatmapColumnWidth)] = .nonfinite
                    cells[steps.column(nonfinite.upperBound, columnWidth: ChartLayout.heatmapColumnWidth)] = .nonfinite
                }
            }
            if let first = cells.firstIndex(where: { $0 != .empty }), let last = cells.lastIndex(where: { $0 != .empty }) {
                var held = cells[first]
                for column in first...last {
                    if cells[column] == .empty { cells[column] = held } else { held = cells[column] }
                }
            }
            for case .value(let value) in cells {
                low = min(low, log10(value))
                high = max(high, log10(value))
            }
            grid.append(cells)
        }
        if low > high { (low, high) = (0.0, 1.0) }
        if high - low < 1 {
            let middle = (low + high) / 2
            (low, high) = (middle - 0.5, middle + 0.5)
        }
        return (grid, low, high)
    }

    /// A cell's colour: one of the palette's levels over [low, high] in log10, zero, or non-finite;
    /// nil for a cell with nothing logged.
    private static func colour(of cell: Cell, low: Double, high: Double) -> Key? {
        switch cell {
        case .empty: return nil
        case .zero: return .zero
        case .nonfinite: return .nonfinite
        case .value(let value):
            let level = Int(((log10(value) - low) / (high - low) * Double(levels)).rounded(.down))
            return .level(min(levels - 1, max(0, level)))
        }
    }

    /// One path per colour: runs of equal cells in a row as strokes.
    private func strokes(_ grid: [[Cell]], low: Double, high: Double, top: Int) -> [Key: String] {
        let columns = ChartLayout.heatmapColumns
        let rowHeight = ChartLayout.heatmapRowHeight
        var paths: [Key: String] = [:]
        for (index, cells) in grid.enumerated() {
            let y = ChartLayout.coordinate(Double(top + index * rowHeight) + Double(rowHeight - 1) / 2)
            var column = 0
            while column < columns {
                guard let cellKey = Self.colour(of: cells[column], low: low, high: high) else {
                    column += 1
                    continue
                }
                var end = column + 1
                while end < columns, Self.colour(of: cells[end], low: low, high: high) == cellKey { end += 1 }
                let x = ChartLayout.left + column * ChartLayout.heatmapColumnWidth
                paths[cellKey, default: ""] += "M\(x) \(y)h\((end - column) * ChartLayout.heatmapColumnWidth)"
                column = end
            }
        }
        return paths
    }

    /// The colour scale with its ends and middle in norms, then the special cells.
    private func legend(at y: Int, low: Double, high: Double) -> String {
        let box = 20
        let left = ChartLayout.left
        var legend = "<g class=\"legend\"><text class=\"title\" x=\"\(left - 6)\" y=\"\(y + 10)\">log10 norm</text>"
        for (level, colour) in Self.palette.enumerated() {
            legend += "<rect x=\"\(left + level * box)\" y=\"\(y)\" width=\"\(box)\" height=\"12\" fill=\"\(colour)\"/>"
        }
        let scaleWidth = Self.levels * box
        for (offset, value) in [(0, low), (scaleWidth / 2, (low + high) / 2), (scaleWidth, high)] {
            legend += "<text class=\"tick\" x=\"\(left + offset)\" y=\"\(y + 24)\">\(HTMLText.escape(NumberFormat.short(pow(10, value))))</text>"
        }
        var x = left + scaleWidth + 24
        for (fill, label, advance) in [(Self.nonfiniteColour, "NaN/Inf", 84), (Self.zeroColour, "0", 44)] {
            legend += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(box)\" height=\"12\" fill=\"\(fill)\"/><text class=\"key\" x=\"\(x + 24)\" y=\"\(y + 10)\">\(label)</text>"
            x += advance
        }
        legend += "<rect class=\"frame\" x=\"\(x)\" y=\"\(y)\" width=\"\(box)\" height=\"12\"/><text class=\"key\" x=\"\(x + 24)\" y=\"\(y + 10)\">not logged</text>"
        return legend + "</g>"
    }

    /// Viridis (matplotlib's perceptually uniform map) between five of its colours, as #rrggbb.
    static func viridis(_ t: Double) -> String {
        let stops: [(Double, Double, Double)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
        let position = min(max(t, 0), 1) * Double(stops.count - 1)
        let index = min(stops.count - 2, Int(position))
        let fraction = position - Double(index)
        let (a, b) = (stops[index], stops[index + 1])
        func channel(_ x: Double, _ y: Double) -> String {
            let value = Int((x + (y - x) * fraction).rounded())
            let hex = String(value, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }
        return "#" + channel(a.0, b.0) + channel(a.1, b.1) + channel(a.2, b.2)
    }
}
