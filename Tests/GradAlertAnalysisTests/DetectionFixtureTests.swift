import Foundation
import GradAlertAnalysis
import GradientDetection
import Testing

/// Real runs of the kinds the detector found hard (Tests/Fixtures/detection, made by
/// Tools/fixtures/detection_runs.sh, labelled from the gradients in memory): explosions in the
/// first steps, before any history, and repeated cliffs in noisy clipped RNNs — each caught,
/// critical, within a few steps of its onset; their healthy neighbours silent. The whole
/// evaluation, over every labelled set, is `Tools/evaluate_detector.py`.
@Suite struct DetectionFixtureTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/detection").path

    struct Label: Sendable, CustomStringConvertible {
        var run: String
        var explodes: Bool
        var kind: String
        var onset: Int64?
        var description: String { run }
    }

    static let labels: [Label] = {
        guard let data = FileManager.default.contents(atPath: directory + "/labels.json"),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let runs = object["runs"] as? [[String: Any]]
        else { return [] }
        return runs.map {
            Label(run: $0["run"] as? String ?? "", explodes: $0["explodes"] as? Bool ?? false, kind: $0["class"] as? String ?? "",
                  onset: ($0["onset_step"] as? Int).map(Int64.init))
        }
    }()

    static func scan(_ run: String) async throws -> RunReport {
        let runs = try RunDiscovery.runs(under: [directory + "/runs"]).filter { $0.name == run }
        return try #require(await LogScanner(classifier: try TagClassifier(), configuration: DetectorConfiguration()).scan(runs: runs).reports.first)
    }

    @Test func everyKindIsThere() {
        let kinds = Set(Self.labels.map(\.kind))
        #expect(kinds.isSuperset(of: ["early", "cliffs", "growth_nan", "healthy"]))
    }

    @Test(arguments: labels)
    func verdictAndLatency(label: Label) async throws {
        let report = try await Self.scan(label.run)
        switch label.kind {
        case "healthy":
            #expect(report.verdict == .healthy, "\(report.alerts.map(\.alert.message))")
        case "first_step":
            // Labelled from a first gradient 10x over the median of steps 0-19 that then falls with
            // the loss: a fresh net's first steps, not an explosion no causal rule can see at step 0.
            #expect(report.verdict != .nonfinite)
        default:
            let onset = try #require(label.onset)
            let firstCritical = try #require(report.alerts.first { $0.alert.severity == .critical }?.alert.step, "missed: \(label.run)")
            #expect(firstCritical - onset <= 15, "\(label.run): onset \(onset), first critical alert at \(firstCritical)")
        }
    }

    /// The repeated-cliffs alert says what it compared to what, and that clipping is on.
    @Test func cliffsExplainThemselves() async throws {
        let report = try await Self.scan("tf2/rnn-explode-lr-15")
        let cliffs = try #require(report.alerts.first { $0.alert.kind == .cliffs }?.alert)
        #expect(cliffs.severity == .critical)
        #expect(cliffs.series == "train/grad_norm")
        #expect(cliffs.message.contains("Repeated cliffs"))
        #expect(cliffs.message.contains("clipping is active (train/grad_norm_clipped is logged)"))
        #expect(!cliffs.remedies.contains(.clipGradients))  // it clips already
        // The post-clip norm is recognised and not watched; the histograms stay watched.
        #expect(!report.gradientSeries.contains("train/grad_norm_clipped"))
        #expect(report.gradientSeries.contains { $0.hasPrefix("train/grads/") })
    }

    /// Adam at 0.05: the norm and the loss jump at step 1, before any history. The alert says the
    /// loss jumped with it, and advises a lower learning rate first (the start was fine).
    @Test func anEarlyJumpTheLossConfirms() async throws {
        let report = try await Self.scan("tbx/cnn-explode-lr-11")
        let first = try #require(report.alerts.first?.alert)
        #expect(first.kind == .spike && first.step <= 2)
        #expect(first.message.contains("the loss jumped with it"))
        #expect(first.remedies.first == .lowerLearningRate)
    }
}
