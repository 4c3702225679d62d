import Foundation
import GradAlertAnalysis
import GradAlertLab
import GradAlertTestSupport
import GradientDetection
import GradientHooks
import TensorBoardEvents
import Testing

/// The live path (`GradientMonitor.record`, inside the training loop) and the file path (a scan of
/// the logdir the monitor wrote) raise the same alerts — kind, series, step, severity, origin,
/// value and baseline — in the same order, on real training: runs that go NaN, one that explodes
/// (Kaiming initialisation with a learning rate still too high), one whose norm climbs slowly, and
/// healthy ones.
@Suite struct PathsAgreeTests {
    /// What must agree, as one line per alert (values bit for bit: the live path feeds the detector
    /// the float32 values the file stores).
    static func describe(_ alert: Alert) -> String {
        "\(alert.step) \(alert.kind) \(alert.severity) \(alert.series) origin=\(alert.origin ?? "-") value=\(alert.value.bitPattern) baseline=\(alert.baseline?.bitPattern ?? 0)"
    }

    static func scan(_ logdir: String) async throws -> [String: RunReport] {
        let runs = try RunDiscovery.runs(under: [logdir])
        let result = await LogScanner(classifier: try TagClassifier(), configuration: DetectorConfiguration()).scan(runs: runs)
        return Dictionary(uniqueKeysWithValues: result.reports.map { ($0.run, $0) })
    }

    @Test func demoRunsAlertTheSameLiveAndFromFiles() async throws {
        let folder = try TemporaryDirectory("gradalert-paths")
        let names = ["lr-too-high/baseline", "lr-too-high/clip", "unbounded-activation/baseline", "lr-too-high/lower-lr", "unbounded-activation/tanh"]
        let experiments = Lab.experiments().filter { names.contains($0.name) }
        #expect(experiments.count == names.count)
        var live: [String: [Alert]] = [:]
        for experiment in experiments {
            live[experiment.name] = try Lab.run(experiment, logdir: folder.path, steps: 200, seed: 1).alerts
        }
        let reports = try await Self.scan(folder.path)
        for name in names {
            let report = try #require(reports[name])
            let liveAlerts = try #require(live[name])
            #expect(report.alerts.allSatisfy { !$0.superseded && $0.segment == 0 && $0.stream == 0 })
            #expect(report.alerts.map { Self.describe($0.alert) } == liveAlerts.map(Self.describe), "\(name)")
        }
        // The runs are what the test says they are: NaN, an explosion, healthy.
        #expect(reports["lr-too-high/baseline"]?.verdict == .nonfinite)
        #expect(reports["unbounded-activation/baseline"]?.verdict == .nonfinite)
        #expect(reports["lr-too-high/clip"]?.verdict == .exploding)
        #expect(reports["lr-too-high/lower-lr"]?.verdict == .healthy)
        #expect(reports["unbounded-activation/tanh"]?.verdict == .healthy)
        // Origins are named at the moment of the alert, so some alerts have one and the live
        // reports carry it too.
        #expect(live.values.joined().contains { $0.origin != nil })
    }

    /// Least-squares regression with a learning rate that grows 3% a step: once it passes the
    /// stability limit (2/λmax), every step overshoots a little more and the gradient norm climbs
    /// steadily (growth, a warning) well before it spikes and goes non-finite — live and from the
    /// file alike, with the same origin at every alert.
    @Test func slowClimbAlertsTheSameLiveAndFromFiles() async throws {
        let folder = try TemporaryDirectory("gradalert-paths")
        var options = GradientMonitor.Options()
        options.histogramEvery = 25
        options.writer.flushInterval = nil
        let monitor = try GradientMonitor(logdir: folder.path + "/climb", options: options)
        var random = LabRandom(seed: 7)
        let model = Dense(2, 1, initialisation: .xavier, random: &random)
        monitor.watch(model)
        let inputs = Spirals(pointsPerClass: 60, seed: 8).inputs
        let targets = (0..<inputs.rows).map { 0.7 * inputs[$0, 0] - 0.3 * inputs[$0, 1] + 0.1 }
        let optimiser = SGD(learningRate: 0.05, momentum: 0)
        var live: [Alert] = []
        for step in 0..<600 {
            for parameter in model.parameters { parameter.zeroGradient() }
            let output = model.forward(inputs)
            let residuals = (0..<inputs.rows).map { output[$0, 0] - targets[$0] }
            let loss = residuals.map { $0 * $0 }.reduce(0, +) / Float(inputs.rows)
            _ = model.backward(Matrix(rows: inputs.rows, columns: 1, values: residuals.map { 2 * $0 / Float(inputs.rows) }))
            let report = try monitor.record(step: step, loss: Double(loss))
            live += report.alerts
            if report.shouldSkipStep || !loss.isFinite { break }
            optimiser.learningRate *= 1.03
            optimiser.step(model.parameters)
        }
        try monitor.close()
        let report = try #require(try await Self.scan(folder.path)["climb"])
        #expect(report.alerts.map { Self.describe($0.alert) } == live.map(Self.describe))
        #expect(live.first?.kind == .growth, "the climb is warned about before it explodes: \(live.map(Self.describe))")
        #expect(live.contains { $0.severity == .critical })
    }
}
