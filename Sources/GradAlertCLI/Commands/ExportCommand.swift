import ArgumentParser
import Foundation
import GradAlertAnalysis
import GradientDetection
import TensorBoardEvents

/// `gradalert export`: the gradient and loss series, for pandas and friends.
package struct Export: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Print the gradient-norm and loss series gradalert sees, as CSV or JSON.",
        discussion: """
            One row per value: run, stream, segment, tag, role (global_gradient_norm, \
            layer_gradient_norm, loss, clipped_gradient_norm), step, wall_time, value. Histogram tags give their norm \
            (sqrt(sum_squares); estimated from bucket centres for TF2 histograms); a global norm \
            computed from per-layer norms is included when a run logs none. Tags are chosen as \
            in `scan` (--grad-tags, --loss-tags). Files that several writers wrote into one run \
            at the same time (data-parallel ranks) are told apart as in `scan`: the stream column \
            numbers them from 0; a restart (steps going back) starts a new segment.

            Examples:
              gradalert export runs/ > series.csv          # pandas.read_csv("series.csv")
              gradalert export runs/ --format json         # one JSON document: {"series": [...]}
            """
    )

    package enum Format: String, ExpressibleByArgument, CaseIterable, Sendable {
        case csv, json
    }

    @Argument(help: "Log directories or event files.")
    package var paths: [String]

    @Option(help: "csv or json.")
    package var format: Format = .csv

    @OptionGroup(title: "Tags")
    package var tags: TagOptions

    package init() {}

    package func run() async throws {
        var output = StandardOutput()
        let status = try Self.export(paths: paths, format: format, classifier: try tags.classifier(), output: &output)
        output.flush()
        if status != ExitStatus.success { throw ExitCode(status) }
    }

    package static func export(paths: [String], format: Format, classifier: TagClassifier, output: inout some TextOutputStream) throws -> Int32 {
        guard let runs = runsOrUsageError(under: paths, command: "export") else { return ExitStatus.usage }
        if format == .csv {
            output.write("run,stream,segment,tag,role,step,wall_time,value\n")
        } else {
            output.write("{\"gradalert\":\"\(GradAlert.version)\",\"series\":[")
        }
        var first = true
        for run in runs {
            // The series only: the detector is not run.
            let analyzer = RunAnalyzer(name: run.name, classifier: classifier, configuration: DetectorConfiguration(), detects: false)
            let rows = Rows()
            analyzer.pointSink = { point, stream in rows.points.append((point, stream)) }
            for file in run.files { analyzer.read(file) }
            let report = analyzer.finish()
            for diagnostic in report.diagnostics { printError("gradalert export: \(diagnostic)") }
            for (point, stream) in rows.points {
                switch format {
                case .csv:
                    let fields = [
                        csv(run.name), String(stream), String(point.segment), csv(point.series), ScanJSON.roleName(point.role),
                        String(point.step), point.wallTime.map { String($0) } ?? "", csvNumber(point.value),
                    ]
                    output.write(fields.joined(separator: ",") + "\n")
                case .json:
                    var json = JSONWriter()
                    json.beginObject()
                    json.field("run", run.name)
                    json.field("stream", stream)
                    json.field("segment", point.segment)
                    json.field("tag", point.series)
                    json.field("role", ScanJSON.roleName(point.role))
                    json.field("step", point.step)
                    json.key("wall_time")
                    if let wallTime = point.wallTime { json.number(wallTime) } else { json.null() }
                    json.field("value", point.value)
                    json.endObject()
                    output.write((first ? "" : ",") + json.output)
                    first = false
                }
            }
        }
        if format == .json { output.write("]}\n") }
        return ExitStatus.success
    }

    private static func csv(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// pandas reads nan, inf and -inf.
    private static func csvNumber(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        return String(value)
    }
}

/// Collects the points of one run (the sink cannot capture an inout array).
private final class Rows {
    var points: [(StepAssembler.Point, Int)] = []
}
