import ArgumentParser
import Foundation
import GradAlertAnalysis
import GradientDetection

/// `gradalert report`: one HTML page (or a Markdown summary) to open, attach or post.
package struct Report: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Write one self-contained HTML page (or a Markdown summary) of what scan finds.",
        discussion: """
            Scans every run under each PATH as `scan` does (same detector, same options) and \
            writes one HTML file: inline SVG and CSS, no script, nothing loaded from the network, \
            so it opens in any browser and can be kept as a CI artifact.

            The page: a table of every run (verdict, incidents, first incident step, origin \
            layer, peak global gradient norm, final loss), runs that need a look first; then, per \
            run, a collapsible section with each incident in words (what happened, where, what to \
            try), the global gradient norm and the loss over steps on log scales (incidents \
            shaded, their opening steps marked, NaN/Inf as coloured bands), and a gradient-flow \
            heatmap (layers x steps, colour = log10 norm). Long runs are drawn as the smallest \
            and largest value of each pixel column, so a one-step spike is always drawn.

            Size: about 0.25 KB per run for its table row, and 3-40 KB per drawn run (the 17 runs \
            of Tests/Fixtures/training make a page of about 200 KB). At most 200 runs are drawn: \
            with more than 200 runs, healthy runs get their table row only.

            --format markdown writes a short summary instead (the table and each incident's \
            headline and advice) for a CI job's page, e.g. >> "$GITHUB_STEP_SUMMARY".

            Exit status as scan: 0 nothing at or above --fail-on; 1 found something; 2 usage \
            error, no readable event file (the report is written all the same) or the output \
            could not be written.

            Examples:
              gradalert report runs/                          # writes gradalert-report.html
              gradalert report runs/ -o report.html --fail-on never
              gradalert report runs/ --format markdown >> "$GITHUB_STEP_SUMMARY"
            """
    )

    package enum Format: String, ExpressibleByArgument, CaseIterable, Sendable {
        case html, markdown
    }

    @Argument(help: "Log directories or event files.")
    package var paths: [String]

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp(
        "Where to write: a file, or - for standard output (default: gradalert-report.html for html, standard output for markdown).",
        valueName: "file"))
    package var outputPath: String?

    @Option(help: "html (one page) or markdown (a short summary).")
    package var format: Format = .html

    @Option(help: "Exit 1 when an incident at or above this severity is found (warning also fails on a run with no data): warning, critical or never.")
    package var failOn: Scan.FailOn = .warning

    @OptionGroup(title: "Detector")
    package var detector: DetectorOptions

    package init() {}

    package func run() async throws {
        var output = StandardOutput()
        let status = try await execute(output: &output, interactive: isatty(2) == 1)
        output.flush()
        if status != ExitStatus.success { throw ExitCode(status) }
    }

    /// Where the document goes: the file given, or "-" for `output`.
    var destination: String { outputPath ?? (format == .html ? "gradalert-report.html" : "-") }

    /// Scans, writes the document (to `output` with `-o -`, else to the file, saying so on
    /// `output`) and returns the exit status.
    package func execute(output: inout some TextOutputStream, interactive: Bool = false) async throws -> Int32 {
        guard let runs = runsOrUsageError(under: paths, command: "report") else { return ExitStatus.usage }
        let classifier = try detector.classifier()
        let configuration = try detector.checkedConfiguration()
        let drawsSection = format == .html
        let drawsHealthy = runs.count <= ReportPage.drawnRunLimit
        let started = ContinuousClock.now
        var bytes = 0
        let analysed = await mapConcurrently(Array(runs.indices), limit: ProcessInfo.processInfo.activeProcessorCount, { index in
            ReportRun.analyse(
                runs[index], index: index, classifier: classifier, configuration: configuration,
                drawsSection: drawsSection, drawsHealthy: drawsHealthy)
        }, done: { run, finished in
            bytes += run.report.bytes
            if interactive, ContinuousClock.now - started > .seconds(1) {
                printErrorInline("\rreport: \(finished)/\(runs.count) runs, \(bytes / 1_000_000) MB")
            }
        })
        if interactive && ContinuousClock.now - started > .seconds(1) { printErrorInline("\r\u{1B}[K") }

        let document: String
        switch format {
        case .html: document = ReportPage(paths: paths, runs: analysed).html()
        case .markdown: document = ReportMarkdown(paths: paths, runs: analysed).document()
        }
        if destination == "-" {
            output.write(document)
        } else {
            do {
                try Data(document.utf8).write(to: URL(fileURLWithPath: destination), options: .atomic)
            } catch {
                printError("gradalert report: cannot write \(destination): \(error.localizedDescription)")
                return ExitStatus.usage
            }
            let kilobytes = (document.utf8.count + 512) / 1024
            output.write("gradalert report: \(ReportPage.counts(analysed)); wrote \(destination) (\(kilobytes) KB)\n")
        }

        let reports = analysed.map(\.report)
        let readable = reports.reduce(0) { $0 + $1.readableFiles }
        guard readable > 0 else {
            printError("gradalert report: \(ScanText.noneReadable(reports.reduce(0) { $0 + $1.files }))")
            return ExitStatus.usage
        }
        return failOn.exitStatus(for: reports.map(\.verdict))
    }
}
