import GradientDetection
import ArgumentParser
import Foundation
import GradAlertAnalysis
import Testing

@testable import GradAlertCLI
@testable import TensorBoardEvents

@Suite struct DemoTests {
    /// A short demo of the MLP baseline and its clipping remedy: real training, logged, scanned.
    @Test func demoTrainsLogsAndScans() async throws {
        let logdir = FileManager.default.temporaryDirectory.path + "/gradalert-demo-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: logdir) }
        var command = try Demo.parse(["--logdir", logdir, "--steps", "60", "--only", "mlp-baseline", "--only", "mlp-clip"])
        try command.validate()
        var output = ""
        let status = try await command.execute(output: &output)
        #expect(status == ExitStatus.success)
        #expect(output.contains("tensorboard --logdir \(logdir)"))
        let lines = output.split(separator: "\n")
        let baseline = try #require(lines.first { $0.hasPrefix("mlp-baseline") })
        let clip = try #require(lines.first { $0.hasPrefix("mlp-clip") })
        #expect(baseline.contains("nonfinite") || baseline.contains("exploding"), "\(baseline)")
        #expect(clip.contains("healthy"), "\(clip)")
        // Everything the monitor promises is in the logdir, with a gradient-flow image.
        let runs = try LogDirectory.runs(in: logdir)
        #expect(runs.map(\.name) == ["mlp-baseline", "mlp-clip"])
        var kinds: Set<String> = []
        var tags: Set<String> = []
        for case .event(let event, _) in EventFileReader(path: runs[1].files[0]).readAll() {
            for value in event.summaryValues {
                kinds.insert(value.kind)
                tags.insert(value.tag)
            }
        }
        #expect(kinds.isSuperset(of: ["scalar", "histogram", "image", "text"]))
        #expect(tags.contains("gradient-flow"))
        #expect(tags.contains("grad_norm/global"))
        #expect(tags.contains("loss"))
    }

    /// The Kaiming run explodes, and then its first layers die: their gradient norms fall to zero
    /// (flickering around 1e-5) while the loss sits back at chance. scan says both.
    @Test func kaimingRunExplodesThenItsFirstLayersCollapse() async throws {
        let logdir = FileManager.default.temporaryDirectory.path + "/gradalert-demo-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: logdir) }
        var command = try Demo.parse(["--logdir", logdir, "--only", "mlp-kaiming"])
        try command.validate()
        var output = ""
        _ = try await command.execute(output: &output)
        let report = try #require(await LogScanner(classifier: try TagClassifier(), configuration: .init())
            .scan(runs: try RunDiscovery.runs(under: [logdir])).reports.first)
        #expect(report.verdict == .exploding)
        let collapsed = report.alerts.filter { $0.alert.kind == .collapse }.map(\.alert.series)
        #expect(collapsed.contains("grad_norm/layers.0.weight"), "\(collapsed)")
        // The last layer keeps learning: only early layers die.
        #expect(!collapsed.contains("grad_norm/layers.16.weight"))
        let firstCollapse = try #require(report.alerts.first { $0.alert.kind == .collapse })
        let lastSpike = try #require(report.alerts.last { $0.alert.kind == .spike })
        #expect(firstCollapse.alert.step > lastSpike.alert.step)
    }

    @Test func unknownExperimentIsAUsageError() throws {
        // parse() runs validate(): an unknown name is refused before anything is trained.
        #expect(throws: (any Error).self) { _ = try Demo.parse(["--only", "no-such-run"]) }
        #expect(throws: (any Error).self) { _ = try Demo.parse(["--steps", "3"]) }
    }
}
