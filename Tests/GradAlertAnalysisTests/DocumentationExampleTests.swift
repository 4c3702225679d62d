import Foundation
import GradAlertAnalysis
import GradientDetection
import Testing

/// The example of docs/hooks.md ("Using the analysis library from Swift") compiles and does what
/// the page says. Keep the code between the markers word for word the same as the page's, apart
/// from the logdir, which here is the labelled training runs.
@Suite struct DocumentationExampleTests {
    static let trainingDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/training").path

    @Test func scanningALogdirPrintsItsIncidents() async throws {
        // The example prints; this `print` keeps what it prints, for the checks below.
        var printed = ""
        func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
            printed += items.map { "\($0)" }.joined(separator: separator) + terminator
        }
        let logdir = Self.trainingDirectory

        // docs/hooks.md, from here on (`let logdir = "runs/"` there).
        let runs = try RunDiscovery.runs(under: [logdir])
        let scanner = LogScanner(classifier: try TagClassifier(), configuration: DetectorConfiguration())
        let result = await scanner.scan(runs: runs)
        for report in result.reports {
            if report.verdict == .noData {
                print("\(report.run): no data (\(report.noDataReason ?? "?"))")
                continue
            }
            print("\(report.run): \(report.verdict.rawValue), \(report.incidents.count) incident(s)")
            for entry in report.incidents {
                let incident = entry.incident
                print("  incident \(entry.id)" + (entry.superseded ? " (a restart overwrote it)" : ""))
                print("    \(incident.headline)")
                print("    \(incident.detail)")
                if let advice = incident.advice() { print("    \(advice)") }
            }
        }
        print("\(result.reports.count) runs, \(result.files) files, \(result.bytes) bytes in \((result.seconds * 1000).rounded() / 1000) s")
        // docs/hooks.md, up to here.

        #expect(result.reports.count == 17)
        #expect(printed.contains("17 runs, 18 files, "))
        let exploding = result.reports.filter { $0.run.hasPrefix("exploding/") }
        #expect(exploding.count == 8)
        for report in exploding {
            let first = try #require(report.incidents.first, "\(report.run) exploded but has no incident")
            #expect(printed.contains("\(report.run): \(report.verdict.rawValue), \(report.incidents.count) incident(s)\n"))
            #expect(printed.contains("  incident \(first.id)\n") || printed.contains("  incident \(first.id) ("), "\(report.run)")
            #expect(printed.contains("    \(first.incident.headline)\n"), "\(report.run)")
            #expect(printed.contains("    try: "), "\(report.run)")
        }
        for report in result.reports where report.run.hasPrefix("healthy/") {
            #expect(printed.contains("\(report.run): healthy, 0 incident(s)\n"))
        }
        // The explosion that a restart from an earlier checkpoint hid from TensorBoard.
        let restarted = try #require(result.reports.first { $0.run == "restart/deep_mlp_lower_lr" })
        let hidden = try #require(restarted.incidents.first)
        #expect(hidden.superseded)
        #expect(printed.contains("  incident \(hidden.id) (a restart overwrote it)\n"))
        // One "incident" line per incident, and nothing for runs without data (there are none).
        let incidentLines = printed.split(separator: "\n").filter { $0.hasPrefix("  incident ") }
        #expect(incidentLines.count == result.reports.reduce(0) { $0 + $1.incidents.count })
        #expect(!printed.contains(": no data ("))
    }
}
