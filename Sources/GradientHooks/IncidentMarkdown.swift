import GradientDetection

/// Incidents (and alerts) as Markdown for TensorBoard's Text tab: one block per incident event, so
/// the tab reads like a log of incidents, not a wall of alerts.
public enum IncidentMarkdown {
    /// The blocks of one step's events, separated by rules.
    public static func render(_ events: [IncidentEvent]) -> String {
        events.map(render).joined(separator: "\n\n---\n\n")
    }

    public static func render(_ event: IncidentEvent) -> String {
        let incident = event.incident
        var lines: [String] = []
        switch event.change {
        case .opened, .escalated:
            let mark = incident.severity == .critical ? "🔴" : "🟠"
            lines.append("### \(mark) incident \(event.change.rawValue) at step \(event.step) (\(incident.severity.rawValue))")
        case .closed:
            lines.append("### ✅ incident closed at step \(event.step)")
        }
        lines.append(incident.headline)
        lines.append(incident.detail)
        if event.change != .closed, !incident.remedies.isEmpty {
            lines.append("What to try:")
            lines.append(incident.remedies.enumerated().map { "\($0.offset + 1). \($0.element.advice)" }.joined(separator: "\n"))
        }
        if event.change != .closed {
            // The evidence: this step's alerts.
            let evidence = incident.alerts.filter { $0.step == event.step }
            if !evidence.isEmpty {
                lines.append("Alerts at this step:")
                lines.append(evidence.map { "- \(AlertMarkdown.line($0))" }.joined(separator: "\n"))
            }
        }
        return lines.joined(separator: "\n\n")
    }
}

/// One alert in Markdown: the series, the numbers, the rule's own sentence.
public enum AlertMarkdown {
    public static func line(_ alert: Alert) -> String {
        var text = "**\(alert.kind.rawValue)** (\(alert.severity.rawValue)) `\(alert.series)` = \(NumberFormat.short(alert.value))"
        if let baseline = alert.baseline { text += ", baseline \(NumberFormat.short(baseline))" }
        if let ratio = alert.ratio { text += ", ratio \(NumberFormat.short(ratio))×" }
        return text + ": " + alert.message
    }
}
