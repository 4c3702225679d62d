import ArgumentParser
import ExplosionDetector
import Foundation
import TensorBoardEvents

/// `gradalert export`: the gradient and loss series, for pandas and friends.
public struct Export: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Print the gradient-norm and loss series gradalert sees, as CSV or JSON.",
        discussion: """
            One row per value: run, segment, tag, role (global_gradient_norm, \
            layer_gradient_norm, loss), step, wall_time, value. Histogram \
            tags give their norm (sqrt(sum_squares); estimated from bucket centres for TF2 histograms); a global norm computed from per-layer norms \
            is included when a run logs none. Tags are chosen as in `scan` (--grad-tags, \
            --loss-tags).

            Examples:
              gradalert export runs/ > series.csv          # pandas.read_csv("series.csv")
              gradalert export runs/ --format json         # one JSON document: {"series": [...]}
            """
    )

    public enum Format: String, ExpressibleByArgument, CaseIterable, Sendable {
        case csv, json
    }

    @Argument(help: "Log directories or event files.")
    public var paths: [String]

    @Option(help: "csv or json.")
    public var format: Format = .csv

    @OptionGroup(title: "Tags")
    public var tags: TagOptions

    public init() {}

    public func run() async throws {
        var output = StandardOutput()
        let status = try Self.export(paths: paths, format: format, classifier: try tags.classifier(), output: &output)
        output.flush()
        if status != ExitStatus.success { throw ExitCode(status) }
    }

    public static func export(paths: [String], format: Format, classifier: TagClassifier, output: inout some TextOutputStream) throws -> Int32 {
        let runs: [(name: String, files: [String])]
        do {
            runs = try LogScanner.discover(paths)
        } catch {
            printError("gradalert export: \(error)")
            return ExitStatus.usage
        }
        guard !runs.isEmpty else {
            printError("gradalert export: no event files under \(paths.joined(separator: ", "))")
            return ExitStatus.usage
        }
        var first = true
        if format == .csv {
            output.write("run,segment,tag,role,step,wall_time,value\n")
        } else {
            output.write("{\"gradalert\":\"\(GradAlert.version)\",\"series\":[")
        }
        for run in runs {
            let rows = Rows()
            var analysis = RunAnalysis(name: run.name, classifier: classifier, configuration: DetectorConfiguration())
            analysis.pointSink = { rows.points.append($0) }
            for file in run.files { analysis.consume(EventFileReader(path: file)) }
            analysis.flush()
            for diagnostic in analysis.diagnostics { printError("gradalert export: \(diagnostic)") }
            for point in rows.points {
                if format == .csv {
                    var fields: [String] = [csv(point.run), String(point.segment), csv(point.series)]
                    fields.append(ScanJSON.roleName(point.role))
                    fields.append(String(point.step))
                    fields.append(point.wallTime.map { String($0) } ?? "")
                    fields.append(csvNumber(point.value))
                    output.write(fields.joined(separator: ",") + "\n")
                } else {
                    var json = JSONWriter()
                    json.beginObject()
                    json.field("run", point.run)
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
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// pandas reads nan, inf and -inf.
    private static func csvNumber(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        return String(value)
    }
}

/// Collects the points of one run.
private final class Rows {
    var points: [RunAnalysis.SeriesPoint] = []
}
