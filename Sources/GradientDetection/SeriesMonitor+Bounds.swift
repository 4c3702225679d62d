/// The threshold rules: bounds the user gave, a warning and a critical one; an episode escalates
/// when a value passes the critical bound after the warning one.
extension SeriesMonitor {
    mutating func evaluateThresholds(_ point: Point, into alerts: inout [Alert]) {
        for rule in configuration.thresholds where rule.roles.contains(role) && (rule.series?.contains(name) ?? true) {
            var crossed: (severity: Severity, bound: Double)?
            if let critical = rule.critical, point.value >= critical {
                crossed = (.critical, critical)
            } else if let warning = rule.warning, point.value >= warning {
                crossed = (.warning, warning)
            }
            guard let (severity, bound) = crossed else {
                recover(.threshold, normal: true)
                continue
            }
            if let existing = open[.threshold], existing.severity >= severity {
                open[.threshold]?.normalRun = 0
            } else {
                openEpisode(.threshold, severity, at: point, baseline: bound, ratio: point.value / bound,
                            message: "\(name) = \(Self.format(point.value)) at step \(point.step), above the \(severity.rawValue) bound \(Self.format(bound))",
                            into: &alerts)
            }
        }
    }
}
