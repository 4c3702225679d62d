import ArgumentParser
import GradAlertAnalysis
import GradientDetection
import Foundation
import TensorBoardEvents

/// `gradalert scan`: did anything explode, where, since when?
package struct Scan: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Find exploding (and vanishing) gradients in TensorBoard log directories.",
        discussion: """
            Reads every run under each PATH (folders holding files whose name contains \
            "tfevents"; any writer: TensorFlow, PyTorch, tensorboardX, Keras, JAX, gradalert; \
            files compressed with gzip too), builds gradient-norm and loss series from the tags, and runs the detector over them:

              nonfinite  critical  a NaN/Inf norm or loss (or histogram min/max/sum)
              spike      critical  far above the recent median (or absurd at any step, or,
                                   in the first steps, a jump the loss confirms)
              cliffs     critical  a global norm that keeps jumping 10x over its usual
                                   level, however noisy the series
              growth     warning   steady exponential growth: the early warning
              threshold  either    above --warn-above / --critical-above
              vanishing  warning   a norm stuck under --vanishing-floor
              collapse   warning   a norm fallen 1000x under its usual level, loss stuck

            Gradient series are scalars whose tag matches --grad-tags (global norms are told by \
            name: global/total, or a bare "grad_norm"; a norm after clipping, such as \
            "grad_norm_clipped", is recognised and not watched) and gradient histograms (norm = \
            sqrt(sum_squares), or estimated from bucket centres for TF2 histograms, which carry no sum of squares); loss series match --loss-tags. Other scalars are ignored. When \
            a run logs only per-layer norms, a global norm is computed from them.

            Alerts that overlap in time in one run are one incident: each is printed as a short \
            block (what happened, since which step, in how many layers, which layer went first, \
            what to try); --alerts lists every alert behind them. A run with nothing to judge — \
            every file empty or damaged, or no gradient or loss series — gets the verdict \
            "no data", with the reason.

            A restart (steps going back) starts a new segment; incidents in a segment that a \
            later one overwrote are reported and marked, because TensorBoard will not show them.

            Exit status: 0 nothing at or above --fail-on; 1 found something; 2 usage error or no \
            readable event file. --fail-on warning (the default) fails on any incident and on a \
            run with no data (nothing was checked); critical, only on a critical incident; never, \
            never. Damaged files are reported, not fatal.

            Examples:
              gradalert scan runs/
              gradalert scan runs/ --alerts                  # every alert behind each incident
              gradalert scan runs/ --format json | jq '.runs[] | select(.verdict != "healthy")'
              gradalert scan logs/ --fail-on critical --grad-tags 'gnorm|grad_norm'
            """
    )

    package enum Format: String, ExpressibleByArgument, CaseIterable, Sendable {
        case text, json
    }

    package enum FailOn: String, ExpressibleByArgument, CaseIterable, Sendable {
        case warning, critical, never

        /// The exit status for runs with these verdicts (scan and report): warning fails on any
        /// verdict but healthy, critical on exploding or nonfinite, never on nothing.
        func exitStatus(for verdicts: [RunReport.Verdict]) -> Int32 {
            switch self {
            case .never: ExitStatus.success
            case .warning: verdicts.allSatisfy { $0 == .healthy } ? ExitStatus.success : ExitStatus.found
            case .critical: verdicts.contains { $0 >= .exploding } ? ExitStatus.found : ExitStatus.success
            }
        }
    }

    @Argument(help: "Log directories or event files.")
    package var paths: [String]

    @Option(help: "Output: text, or json (one document; see docs/cli.md).")
    package var format: Format = .text

    @Option(help: "Exit 1 when an incident at or above this severity is found (warning also fails on a run with no data): warning, critical or never.")
    package var failOn: FailOn = .warning

    @Flag(name: [.customLong("alerts"), .customLong("verbose")], help: "List every alert behind the incidents (text output).")
    package var listAlerts = false

    @OptionGroup(title: "Detector")
    package var detector: DetectorOptions

    package init() {}

    package func run() async throws {
        var output = StandardOutput()
        let status = try await execute(output: &output, interactive: isatty(1) == 1 && isatty(2) == 1)
        output.flush()
        if status != ExitStatus.success { throw ExitCode(status) }
    }

    /// Runs the scan, writing to `output`; returns the exit status.
    package func execute(output: inout some TextOutputStream, interactive: Bool = false) async throws -> Int32 {
        guard let runs = runsOrUsageError(under: paths, command: "scan") else { return ExitStatus.usage }
        let scanner = LogScanner(classifier: try detector.classifier(), configuration: try detector.checkedConfiguration())
        let started = ContinuousClock.now
        var progress: ((Int, Int, Int) -> Void)?
        if interactive {
            progress = { (done: Int, total: Int, bytes: Int) in
                guard ContinuousClock.now - started > .seconds(1) else { return }
                printErrorInline("\rscanning: \(done)/\(total) runs, \(bytes / 1_000_000) MB")
            }
        }
        let result = await scanner.scan(runs: runs, progress: progress)
        if interactive && ContinuousClock.now - started > .seconds(1) { printErrorInline("\r\u{1B}[K") }

        guard result.readableFiles > 0 else {
            printError("gradalert scan: \(ScanText.noneReadable(result.files))")
            if format == .json { output.write(ScanJSON.document(result) + "\n") }
            return ExitStatus.usage
        }
        switch format {
        case .json: output.write(ScanJSON.document(result) + "\n")
        case .text:
            let colour = interactive && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
            output.write(ScanText(colour: colour, listAlerts: listAlerts).report(result, paths: paths))
        }
        return failOn.exitStatus(for: result.reports.map(\.verdict))
    }
}
