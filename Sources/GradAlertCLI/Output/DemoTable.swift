import Foundation
import GradAlertAnalysis
import GradAlertLab
import GradientDetection

/// What the demo prints: one table per cause — its baseline, then each remedy with what it did,
/// in words computed from the scan of the runs.
enum DemoTable {
    /// What a run's scan says happened to it, in a few words. For a baseline: how it exploded. For
    /// a remedy: what it did against its baseline's explosion.
    /// A run that explodes no more but learns less than this (accuracy) is not called fixed.
    static let learnedEnough = 0.9

    static func outcome(of report: RunReport, baseline: RunReport?, accuracy: Double? = nil) -> String {
        guard let baseline else { return exploded(report) }
        let critical = report.incidents.first { $0.incident.severity == .critical }?.incident
        switch report.verdict {
        case .healthy, .warning:
            let first = report.incidents.first?.incident
            if let first, first.kinds.contains(.vanishing) || first.kinds.contains(.collapse) {
                return "no explosion, but gradients vanished from step \(first.openingStep)"
            }
            if let accuracy, accuracy < learnedEnough {
                return "no explosion, but it learned little (\(percent(accuracy)))"
            }
            guard let first else { return "fixed" }
            return "fixed (a \(first.kinds.first?.rawValue ?? "") warning at step \(first.openingStep))"
        case .noData:
            return "nothing to judge"
        case .exploding, .nonfinite:
            let step = critical?.openingStep ?? report.incidents.first!.incident.openingStep
            let baselineStep = baseline.incidents.first { $0.incident.severity == .critical }?.incident.openingStep
            if report.verdict == .exploding, baseline.verdict == .nonfinite {
                return "no NaN, but still spiking from step \(step)"
            }
            if let baselineStep, step > baselineStep { return "delayed the explosion to step \(step)" }
            return "did not help"
        }
    }

    /// An accuracy in whole percent, truncated, not rounded: 89.6% must not read as the 90% that
    /// "fixed" asks for.
    static func percent(_ accuracy: Double) -> String { "\(Int(accuracy * 100))%" }

    /// How a baseline went: "NaN/Inf from step N", "exploded at step N", "did not explode".
    static func exploded(_ report: RunReport) -> String {
        let critical = report.incidents.first { $0.incident.severity == .critical }?.incident
        if report.verdict == .nonfinite,
           let step = report.incidents.lazy.compactMap(\.incident.firstNonfiniteStep).first {
            return "NaN/Inf from step \(step)" + (critical.map { $0.openingStep < step ? " (exploding from \($0.openingStep))" : "" } ?? "")
        }
        if let critical { return "exploded at step \(critical.openingStep)" }
        return report.verdict == .warning ? "warnings only" : "did not explode"
    }

    struct Row {
        var run: String
        var change: String
        var outcome: String
        var verdict: String
        var origin: String
        var peakNorm: String
        var finalLoss: String
        var accuracy: String

        var cells: [String] { [run, change, outcome, verdict, origin, peakNorm, finalLoss, accuracy] }
    }

    static let header = Row(run: "run", change: "change", outcome: "outcome", verdict: "verdict", origin: "origin",
                            peakNorm: "peak norm", finalLoss: "final loss", accuracy: "accuracy")

    static func row(_ result: ExperimentResult, report: RunReport?, baseline: RunReport?) -> Row {
        let words = report.map { Self.outcome(of: $0, baseline: baseline, accuracy: Double(result.accuracy)) } ?? "?"
        var accuracy = Self.percent(Double(result.accuracy))
        if let diverged = result.divergedAt { accuracy += " (stopped at step \(diverged))" }
        return Row(
            run: result.name, change: result.change, outcome: words, verdict: report?.verdict.rawValue ?? "?",
            origin: report?.incidents.lazy.compactMap(\.incident.originLayer).first ?? "-",
            peakNorm: NumberFormat.short(result.maxGlobalNorm), finalLoss: NumberFormat.short(Double(result.finalLoss)),
            accuracy: accuracy)
    }

    /// The tables, cause by cause, with columns aligned across all of them.
    static func render(causes: [Cause], results: [String: ExperimentResult], reports: [String: RunReport]) -> String {
        var sections: [(title: String, rows: [Row])] = []
        for cause in causes {
            let ran = cause.experiments.filter { results[$0.name] != nil }
            guard !ran.isEmpty else { continue }
            let baseline = reports[cause.baseline.name]
            let rows = ran.map { experiment in
                row(results[experiment.name]!, report: reports[experiment.name],
                    baseline: experiment.name == cause.baseline.name ? nil : baseline)
            }
            sections.append(("\(cause.title): \(cause.mechanism)", rows))
        }
        var widths = header.cells.map(\.count)
        for section in sections {
            for row in section.rows { for (index, cell) in row.cells.enumerated() { widths[index] = max(widths[index], cell.count) } }
        }
        widths[1] = min(widths[1], 50)
        func line(_ cells: [String]) -> String {
            "  " + cells.enumerated().map { index, cell in
                let text = cell.count > widths[index] ? String(cell.prefix(widths[index] - 1)) + "…" : cell
                return index == cells.count - 1 ? text : text.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ") + "\n"
        }
        var text = "\n" + line(header.cells) + line(widths.map { String(repeating: "-", count: $0) })
        for section in sections {
            text += "\n" + section.title + "\n"
            for row in section.rows { text += line(row.cells) }
        }
        return text
    }
}

/// `LOGDIR/gradalert-demo.json`: what the demo trained and what each run did, for scripts (and the
/// check that every remedy family fixes its cause somewhere).
struct DemoSummary: Encodable {
    struct Run: Encodable {
        var run: String
        var baseline: Bool
        var change: String
        /// The remedy family the run tries (`Remedy`'s raw value), nil for a baseline.
        var remedy: String?
        var outcome: String
        var verdict: String
        var accuracy: Double
        var finalLoss: Double?
        var peakGlobalNorm: Double?
        var stoppedAtStep: Int?

        enum CodingKeys: String, CodingKey {
            case run, baseline, change, remedy, outcome, verdict, accuracy
            case finalLoss = "final_loss", peakGlobalNorm = "peak_global_norm", stoppedAtStep = "stopped_at_step"
        }
    }

    struct CauseRuns: Encodable {
        var id: String
        var title: String
        var mechanism: String
        var runs: [Run]
    }

    var steps: Int
    var seed: UInt64
    var causes: [CauseRuns]

    init(steps: Int, seed: UInt64, causes: [Cause], results: [String: ExperimentResult], reports: [String: RunReport]) {
        self.steps = steps
        self.seed = seed
        self.causes = causes.compactMap { cause in
            let runs: [Run] = cause.experiments.compactMap { experiment in
                guard let result = results[experiment.name], let report = reports[experiment.name] else { return nil }
                let isBaseline = experiment.name == cause.baseline.name
                func finite(_ value: Double) -> Double? { value.isFinite ? value : nil }
                return Run(
                    run: experiment.name, baseline: isBaseline, change: experiment.change,
                    remedy: isBaseline ? nil : experiment.remedy?.rawValue,
                    outcome: DemoTable.outcome(of: report, baseline: isBaseline ? nil : reports[cause.baseline.name], accuracy: Double(result.accuracy)),
                    verdict: report.verdict.rawValue, accuracy: Double(result.accuracy),
                    finalLoss: finite(Double(result.finalLoss)), peakGlobalNorm: finite(result.maxGlobalNorm),
                    stoppedAtStep: result.divergedAt)
            }
            return runs.isEmpty ? nil : CauseRuns(id: cause.id, title: cause.title, mechanism: cause.mechanism, runs: runs)
        }
    }
}
