import ArgumentParser
import GradAlertAnalysis
import GradientDetection
import Foundation
import GradAlertLab
import TensorBoardEvents

/// `gradalert demo`: each cause of exploding gradients, trained for real, and what each remedy does
/// about it.
package struct Demo: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Train real networks that explode, one cause at a time, and the remedies for each; scan them; write a report.",
        discussion: """
            For each cause of exploding gradients, trains a baseline that explodes for that reason \
            and nothing else, then the same run with each remedy that addresses it (and one that \
            does not, where that teaches something), each changing one thing:

              lr-too-high            learning rate too high: lower it, clip, Adam, RMSProp
              init-too-large         weights initialised too large: He init, LayerNorm
              too-deep               a net too deep: residual connections, LayerNorm, clipping
              unbounded-activation   a ReLU recurrent net: tanh, clipping, LeakyReLU
              no-normalisation       raw inputs: standardise them, LayerNorm, a lower learning rate
              overconfident-logits   hard targets and a hand-written softmax: label smoothing

            The networks are gradalert's own small library (hand-written backpropagation, \
            checked by finite differences in the tests); everything is deterministic for a seed. \
            Each run logs through GradientMonitor (norms, histograms, loss, incidents as text, a \
            gradient-flow image) into LOGDIR/<cause>/<run>. Then the logdir is scanned with the \
            same code as `gradalert scan`; a table, cause by cause, says what each remedy did \
            ("fixed", "delayed the explosion to step N", "did not help"...), computed from the \
            scan (and, for "fixed", an accuracy of at least 90%), and the report of `gradalert report` is written to \
            LOGDIR/gradalert-report.html. Runs use every core.

            docs/remedies.md explains each remedy and names the run that shows it.

            Examples:
              gradalert demo
              gradalert demo --only lr-too-high
              gradalert demo --only too-deep/baseline --only too-deep/residual --steps 500
            """
    )

    @Option(help: "Where to write the runs (each run's folder is replaced) and the report.")
    package var logdir: String = "runs/gradalert-demo"

    @Option(parsing: .unconditional, help: "Training steps per run.")
    package var steps: Int = 300

    @Option(help: "Random seed (data, initialisation, batches).")
    package var seed: UInt64 = 1

    @Option(name: .customLong("only"), help: ArgumentHelp("Run only these causes or runs (repeatable): a cause (lr-too-high) or one run (lr-too-high/clip).", valueName: "name"))
    package var only: [String] = []

    package init() {}

    package mutating func validate() throws {
        guard steps >= 10, steps <= 100_000 else { throw ValidationError("--steps must be between 10 and 100000") }
        let causes = Lab.causes()
        let known = Set(causes.map(\.id) + causes.flatMap(\.experiments).map(\.name))
        for name in only where !known.contains(name) {
            throw ValidationError("unknown cause or run '\(name)'; causes: \(causes.map(\.id).joined(separator: ", ")); runs: <cause>/baseline, or one of \(causes.flatMap(\.remedies).map(\.name).joined(separator: ", "))")
        }
    }

    package func run() async throws {
        var output = StandardOutput()
        let status = try await execute(output: &output)
        output.flush()
        if status != ExitStatus.success { throw ExitCode(status) }
    }

    /// The runs `--only` asks for (all of them without it), cause by cause; a remedy brings its
    /// cause's baseline, which its outcome is judged against.
    var experiments: [Experiment] {
        Lab.causes().flatMap { cause in
            let wanted = cause.experiments.filter { only.isEmpty || only.contains(cause.id) || only.contains($0.name) }
            guard !wanted.isEmpty, !wanted.contains(where: { $0.name == cause.baseline.name }) else { return wanted }
            return [cause.baseline] + wanted
        }
    }

    package func execute(output: inout some TextOutputStream) async throws -> Int32 {
        let causes = Lab.causes()
        let experiments = self.experiments
        let started = ContinuousClock.now
        let causeCount = causes.filter { cause in experiments.contains { $0.name.hasPrefix(cause.id + "/") } }.count
        output.write("gradalert demo: \(causeCount) cause\(causeCount == 1 ? "" : "s") of exploding gradients, \(experiments.count) run\(experiments.count == 1 ? "" : "s") of \(steps) steps, into \(logdir)\n")
        for experiment in experiments {
            try? FileManager.default.removeItem(atPath: logdir + "/" + experiment.name)
        }
        let logdir = self.logdir, steps = self.steps, seed = self.seed
        let outcomes = await mapConcurrently(experiments, limit: ProcessInfo.processInfo.activeProcessorCount) { experiment in
            Result { try Lab.run(experiment, logdir: logdir, steps: steps, seed: seed) }
        }
        let results = try outcomes.map { try $0.get() }
        let trained = ContinuousClock.now - started

        // Scan what was written with the same code as `gradalert report` (and so `scan`), drawing
        // each run for the report as it goes.
        let names = Set(experiments.map(\.name))
        let runs = try RunDiscovery.runs(under: [logdir]).filter { names.contains($0.name) }
        let classifier = try TagClassifier()
        let configuration = DetectorConfiguration()
        let scanStarted = ContinuousClock.now
        let analysed = await mapConcurrently(Array(runs.indices), limit: ProcessInfo.processInfo.activeProcessorCount) { index in
            ReportRun.analyse(runs[index], index: index, classifier: classifier, configuration: configuration,
                              drawsSection: true, drawsHealthy: true)
        }
        let scanned = ContinuousClock.now - scanStarted
        let reports = Dictionary(analysed.map { ($0.report.run, $0.report) }, uniquingKeysWith: { first, _ in first })
        let resultsByName = Dictionary(results.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        output.write(DemoTable.render(causes: causes, results: resultsByName, reports: reports))
        let summary = DemoSummary(steps: steps, seed: seed, causes: causes, results: resultsByName, reports: reports)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try? encoder.encode(summary).write(to: URL(fileURLWithPath: logdir + "/gradalert-demo.json"), options: .atomic)

        let reportPath = logdir + "/gradalert-report.html"
        let page = ReportPage(paths: [logdir], runs: analysed).html()
        var wroteReport = true
        do {
            try Data(page.utf8).write(to: URL(fileURLWithPath: reportPath), options: .atomic)
        } catch {
            printError("gradalert demo: cannot write \(reportPath): \(error.localizedDescription)")
            wroteReport = false
        }
        let bytes = analysed.reduce(0) { $0 + $1.report.bytes }
        output.write("\ntrained \(ScanText.count(experiments.count, "run")) in \(NumberFormat.fixed(Self.seconds(trained), decimals: 1)) s; scanned \(NumberFormat.fixed(Double(bytes) / 1e6, decimals: 1)) MB in \(NumberFormat.fixed(Self.seconds(scanned), decimals: 2)) s\n")
        if wroteReport { output.write("the report:      open \(reportPath)\n") }
        output.write("in TensorBoard:  tensorboard --logdir \(logdir)\n")
        output.write("every incident:  gradalert scan \(logdir)\n")
        output.write("what each remedy does, and the run that shows it: docs/remedies.md\n")
        return wroteReport ? ExitStatus.success : ExitStatus.usage
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }
}
