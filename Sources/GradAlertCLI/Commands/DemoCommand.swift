import ArgumentParser
import GradAlertAnalysis
import GradientDetection
import Foundation
import GradAlertLab
import TensorBoardEvents

/// `gradalert demo`: real training that explodes, and what each remedy does about it.
public struct Demo: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Train small real networks that explode, and one run per remedy; then scan them.",
        discussion: """
            Trains, with gradalert's own small neural-network library (hand-written \
            backpropagation, checked by finite differences in the tests):

              mlp-baseline   a deep plain-ReLU MLP, weights too large, learning rate too high
              mlp-*          the same, changing one thing each: lower learning rate, clipping, \
            Kaiming initialisation, GELU, LayerNorm, residual connections, Adam, RMSProp, label \
            smoothing
              rnn-baseline   a ReLU recurrent net on 40-step sequences (the classic explosion)
              rnn-*          the same with clipping, and with tanh and smaller recurrent weights

            Each run logs through GradientMonitor (norms, histograms, loss, alerts as text, and a \
            gradient-flow image) into LOGDIR/<run>, then the logdir is scanned with the same code \
            as `gradalert scan` and one table is printed. Runs use every core.

            Example:
              gradalert demo
              gradalert demo --only mlp-baseline --only mlp-clip --steps 400
            """
    )

    @Option(help: "Where to write the runs (each run's folder is replaced).")
    public var logdir: String = "runs/gradalert-demo"

    @Option(help: "Training steps per run.")
    public var steps: Int = 300

    @Option(help: "Random seed (data, initialisation, batches).")
    public var seed: UInt64 = 1

    @Option(name: .customLong("only"), help: ArgumentHelp("Run only these experiments (repeatable).", valueName: "name"))
    public var only: [String] = []

    public init() {}

    public mutating func validate() throws {
        guard steps >= 10, steps <= 100_000 else { throw ValidationError("--steps must be between 10 and 100000") }
        let known = Set(Lab.experiments().map(\.name))
        for name in only where !known.contains(name) {
            throw ValidationError("unknown experiment '\(name)'; choose from: \(Lab.experiments().map(\.name).joined(separator: ", "))")
        }
    }

    public func run() async throws {
        var output = StandardOutput()
        let status = try await execute(output: &output)
        output.flush()
        if status != ExitStatus.success { throw ExitCode(status) }
    }

    public func execute(output: inout some TextOutputStream) async throws -> Int32 {
        let experiments = Lab.experiments().filter { only.isEmpty || only.contains($0.name) }
        let started = ContinuousClock.now
        output.write("gradalert demo: training \(experiments.count) runs for \(steps) steps each into \(logdir)\n")
        for experiment in experiments {
            try? FileManager.default.removeItem(atPath: logdir + "/" + experiment.name)
        }
        let logdir = self.logdir, steps = self.steps, seed = self.seed
        let outcomes = await mapConcurrently(experiments, limit: ProcessInfo.processInfo.activeProcessorCount) { experiment in
            Result { try Lab.run(experiment, logdir: logdir, steps: steps, seed: seed) }
        }
        let results = try outcomes.map { try $0.get() }
        let trained = ContinuousClock.now - started

        // Scan what was written, with the same code as `gradalert scan`.
        let names = Set(experiments.map(\.name))
        let runs = try RunDiscovery.runs(under: [logdir]).filter { names.contains($0.name) }
        let scan = await LogScanner(classifier: try TagClassifier(), configuration: DetectorConfiguration()).scan(runs: runs)
        output.write(Self.table(results: results, reports: scan.reports))
        let seconds = Double(trained.components.seconds) + Double(trained.components.attoseconds) * 1e-18
        output.write("\ntrained in \(NumberFormat.fixed(seconds, decimals: 2)) s; scanned \(NumberFormat.fixed(Double(scan.bytes) / 1e6, decimals: 2)) MB in \(NumberFormat.fixed(scan.seconds, decimals: 2)) s\n")
        output.write("open it in TensorBoard:\n  tensorboard --logdir \(logdir)\n")
        output.write("details of every alert: gradalert scan \(logdir)\n")
        return ExitStatus.success
    }

    static func table(results: [ExperimentResult], reports: [RunReport]) -> String {
        let header = ["run", "change", "verdict", "incidents", "origin", "peak global norm", "final loss", "accuracy"]
        var rows: [[String]] = []
        for result in results {
            let report = reports.first { $0.run == result.name }
            let verdict = report?.verdict.rawValue ?? "?"
            let incidents = report?.incidents ?? []
            let first = incidents.first.map { "\(incidents.count), first at step \($0.incident.openingStep) (\($0.incident.kinds.map(\.rawValue).joined(separator: ", ")))" } ?? "-"
            let origin = incidents.lazy.compactMap(\.incident.originLayer).first ?? "-"
            let norm = NumberFormat.short(result.maxGlobalNorm)
            let loss = NumberFormat.short(Double(result.finalLoss))
            var accuracy = String(format: "%.0f%%", result.accuracy * 100)
            if let diverged = result.divergedAt { accuracy += " (stopped at step \(diverged))" }
            rows.append([result.name, result.change, verdict, first, origin, norm, loss, accuracy])
        }
        var widths = header.map(\.count)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        widths[1] = min(widths[1], 48)
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                let text = cell.count > widths[index] ? String(cell.prefix(widths[index] - 1)) + "…" : cell
                return index == cells.count - 1 ? text : text.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ") + "\n"
        }
        return "\n" + line(header) + line(widths.map { String(repeating: "-", count: $0) }) + rows.map(line).joined()
    }
}
