import GradientDetection

/// Alerts as Markdown for TensorBoard's Text tab.
public enum AlertMarkdown {
    public static func render(_ alerts: [Alert]) -> String {
        alerts.map(render).joined(separator: "\n\n---\n\n")
    }

    public static func render(_ alert: Alert) -> String {
        var lines: [String] = []
        let mark = alert.severity == .critical ? "🔴" : "🟠"
        lines.append("### \(mark) \(alert.kind.rawValue) (\(alert.severity.rawValue)) at step \(alert.step)")
        var detail = "**\(alert.series)** = \(format(alert.value))"
        if let baseline = alert.baseline { detail += ", baseline \(format(baseline))" }
        if let ratio = alert.ratio { detail += ", ratio \(format(ratio))×" }
        lines.append(detail)
        lines.append(alert.message)
        if let origin = alert.origin {
            lines.append("First layer to alert in this episode: `\(origin)`")
        }
        if !alert.remedies.isEmpty {
            lines.append("What to try:")
            lines.append(alert.remedies.enumerated().map { "\($0.offset + 1). \($0.element.advice)" }.joined(separator: "\n"))
        }
        return lines.joined(separator: "\n\n")
    }

    private static func format(_ value: Double) -> String { NumberFormat.short(value) }
}
