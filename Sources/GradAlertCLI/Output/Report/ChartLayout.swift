/// The geometry the charts of a run share (in SVG user units, which are CSS pixels at full size):
/// the same left margin and plot width for the norm chart, the loss chart and the heatmap, so that
/// one step lies at one x in all three and an incident lines up across them. The left margin
/// holds the y-axis labels, the legends and the heatmap's layer names.
enum ChartLayout {
    static let width = 960
    static let left = 184
    static let right = 16
    /// The plot's width, and so the number of pixel columns a line chart is downsampled to.
    static let plotWidth = width - left - right

    // Line charts.
    static let lineHeight = 214
    /// Above the plot: the non-finite bands (one row per kind).
    static let lineTop = 30
    /// Below the plot: the step axis.
    static let lineBottom = 32
    /// At most this many lines (streams × segments) per chart.
    static let maxLines = 8

    // The heatmap.
    static let heatmapColumnWidth = 4
    static let heatmapColumns = plotWidth / heatmapColumnWidth
    static let heatmapRowHeight = 14
    static let heatmapMaxRows = 40
    static let heatmapTop = 8

    /// Incidents drawn per chart (spans and opening lines); the first `labelledIncidents` carry
    /// their number.
    static let maxIncidents = 200
    static let labelledIncidents = 20

    /// A coordinate with one decimal, without a trailing ".0" (`45`, `45.2`, `-3.5`): enough for
    /// a tenth of a pixel, and short.
    static func coordinate(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let tenths = Int((min(max(value, -1e9), 1e9) * 10).rounded())
        let magnitude = tenths.magnitude
        let sign = tenths < 0 ? "-" : ""
        let whole = magnitude / 10
        let fraction = magnitude % 10
        return fraction == 0 ? "\(sign)\(whole)" : "\(sign)\(whole).\(fraction)"
    }
}
