import ArgumentParser
import ExplosionDetector
import Foundation
import Testing

@testable import GradAlertCLI
@testable import TensorBoardEvents

/// A temporary log directory, removed afterwards.
final class LogFolder {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.path + "/gradalert-scan-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Log-normal noise around `level` (σ = 0.15 decades), deterministic.
struct Jitter {
    var state: UInt64
    mutating func next(_ level: Double) -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        let u = Double((z ^ (z >> 31)) >> 11) * 0x1p-53
        return level * pow(10, 0.15 * (u - 0.5) * 2)
    }
}

func writeRun(_ directory: String, steps: Range<Int>, seed: UInt64 = 1, layers: [String] = ["fc1", "fc2"],
              global: Bool = true, norm: (Int, String) -> Double? = { _, _ in nil }, loss: (Int) -> Double? = { _ in nil }) throws {
    let writer = try SummaryWriter(logdir: directory)
    var jitter = Jitter(state: seed)
    for step in steps {
        var squares = 0.0
        for layer in layers {
            let value = norm(step, layer) ?? jitter.next(0.5)
            squares += value * value
            try writer.scalar("grad_norm/\(layer)", value, step: step, wallTime: 1_700_000_000 + Double(step))
        }
        if global { try writer.scalar("grad_norm/global", squares.squareRoot(), step: step, wallTime: 1_700_000_000 + Double(step)) }
        try writer.scalar("loss", loss(step) ?? 2.0 * exp(-Double(step) / 300) + 0.1, step: step, wallTime: 1_700_000_000 + Double(step))
        try writer.scalar("lr", 0.1, step: step)
    }
    try writer.close()
}

func scanJSON(_ paths: [String], _ extra: [String] = []) async throws -> (status: Int32, json: [String: Any]) {
    var command = try Scan.parse(paths + ["--format", "json"] + extra)
    try command.validate()
    var output = ""
    let status = try await command.execute(output: &output)
    let json = output.isEmpty ? [:] : try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] ?? [:]
    return (status, json)
}

@Suite struct ScanTests {
    @Test func healthyAndExplodingRuns() async throws {
        let folder = try LogFolder()
        try writeRun(folder.path + "/healthy", steps: 0..<400)
        try writeRun(folder.path + "/exploding", steps: 0..<300, seed: 2, norm: { step, layer in
            guard step >= 200 else { return nil }
            if step >= 260 { return .nan }
            return layer == "fc2" ? 0.5 * pow(1.5, Double(step - 199)) : (step >= 203 ? 0.5 * pow(1.4, Double(step - 202)) : nil)
        })
        let (status, json) = try await scanJSON([folder.path])
        #expect(status == ExitStatus.found)
        #expect(json["gradalert"] as? String == GradAlert.version)
        let runs = try #require(json["runs"] as? [[String: Any]])
        #expect(runs.map { $0["run"] as? String } == ["exploding", "healthy"])
        let exploding = runs[0]
        #expect(exploding["verdict"] as? String == "nonfinite")
        #expect(exploding["origin"] as? String == "grad_norm/fc2")
        let first = try #require(exploding["first_alert_step"] as? Int)
        #expect(first >= 200 && first < 215)
        let alerts = try #require(exploding["alerts"] as? [[String: Any]])
        #expect(alerts.contains { $0["kind"] as? String == "nonfinite" && $0["step"] as? Int == 260 && $0["value"] as? String == "NaN" })
        for alert in alerts {
            for key in ["kind", "severity", "tag", "step", "value", "baseline", "ratio", "wall_time", "segment", "superseded", "remedies"] {
                #expect(alert[key] != nil, "alert lacks \(key)")
            }
            #expect((alert["remedies"] as? [String])?.isEmpty == false)
        }
        let series = try #require(exploding["series"] as? [String: [String]])
        #expect(series["gradient"] == ["grad_norm/fc1", "grad_norm/fc2", "grad_norm/global"])
        #expect(series["loss"] == ["loss"])  // "lr" is ignored
        let healthy = runs[1]
        #expect(healthy["verdict"] as? String == "healthy")
        #expect(healthy["first_alert_step"] is NSNull)
        #expect(healthy["origin"] is NSNull)
        let summary = try #require(json["summary"] as? [String: Any])
        #expect(summary["runs"] as? Int == 2 && summary["healthy"] as? Int == 1 && summary["alerting"] as? Int == 1)
        #expect(summary["files"] as? Int == 2)
        #expect((summary["bytes"] as? Int ?? 0) > 1000)
    }

    @Test func failOnDecidesTheExitStatus() async throws {
        let folder = try LogFolder()
        // Only a growth warning: ×1.15 a step for a while, then back down.
        try writeRun(folder.path + "/warm", steps: 0..<200, layers: ["fc"], norm: { step, _ in
            (100..<130).contains(step) ? 0.5 * pow(1.15, Double(step - 99)) : nil
        })
        let warning = try await scanJSON([folder.path])
        let verdict = (warning.json["runs"] as? [[String: Any]])?.first?["verdict"] as? String
        if verdict == "warning" {
            #expect(warning.status == ExitStatus.found)
            #expect(try await scanJSON([folder.path], ["--fail-on", "critical"]).status == ExitStatus.success)
        } else {
            Issue.record("expected a warning-only run, got \(verdict ?? "nil"): \(warning.json)")
        }
        #expect(try await scanJSON([folder.path], ["--fail-on", "never"]).status == ExitStatus.success)
    }

    @Test func usageErrorsExitTwo() async throws {
        #expect(try await scanJSON(["/nonexistent/logs"]).status == ExitStatus.usage)
        let folder = try LogFolder()
        #expect(try await scanJSON([folder.path]).status == ExitStatus.usage)  // no event files
        #expect(throws: (any Error).self) {
            var command = try Scan.parse([folder.path, "--grad-tags", "(unclosed"])
            try command.validate()
        }
    }

    /// A job that exploded, was restarted from an earlier step, and then trained fine: TensorBoard
    /// shows only the restart, but scan reports the explosion, marked as superseded.
    @Test func restartSegmentsAreScannedAndMarked() async throws {
        let folder = try LogFolder()
        let run = folder.path + "/restarted"
        try writeRun(run, steps: 0..<120, norm: { step, _ in step >= 100 ? 1e4 : nil })
        try writeRun(run, steps: 90..<300, seed: 9)  // second file, steps go back to 90
        let (_, json) = try await scanJSON([folder.path])
        let report = try #require((json["runs"] as? [[String: Any]])?.first)
        #expect(report["segments"] as? Int == 2)
        let alerts = try #require(report["alerts"] as? [[String: Any]])
        #expect(!alerts.isEmpty)
        #expect(alerts.allSatisfy { $0["segment"] as? Int == 0 && $0["superseded"] as? Bool == true })
        #expect(report["verdict"] as? String == "exploding")

        var command = try Scan.parse([folder.path])
        var text = ""
        _ = try await command.execute(output: &text)
        #expect(text.contains("TensorBoard will not show"))
        #expect(text.contains("2 segments"))
        try command.validate()
    }

    /// Per-layer norms only: a global norm is computed from them and watched too.
    @Test func globalNormIsDerivedFromLayers() async throws {
        let folder = try LogFolder()
        try writeRun(folder.path + "/layers", steps: 0..<150, layers: ["a", "b", "c"], global: false, norm: { step, layer in
            step >= 120 && layer == "b" ? 500 : nil
        })
        let (_, json) = try await scanJSON([folder.path])
        let report = try #require((json["runs"] as? [[String: Any]])?.first)
        let gradient = (report["series"] as? [String: [String]])?["gradient"] ?? []
        #expect(gradient.contains(RunAnalysis.derivedGlobalName))
        let alerts = report["alerts"] as? [[String: Any]] ?? []
        #expect(alerts.contains { $0["tag"] as? String == RunAnalysis.derivedGlobalName && $0["kind"] as? String == "spike" })
        #expect(report["origin"] as? String == "grad_norm/b")
    }

    /// Gradient histograms are series too: norm = sqrt(sum_squares), NaN when the values were.
    @Test func histogramsGiveNorms() async throws {
        let folder = try LogFolder()
        let writer = try SummaryWriter(logdir: folder.path + "/histos")
        for step in 0..<60 {
            var values = (0..<100).map { Float(sin(Double($0 + step))) * 0.01 }
            if step == 50 { values[3] = .nan }
            try writer.histogram("gradients/dense/kernel", values: values, step: step)
        }
        try writer.close()
        let (_, json) = try await scanJSON([folder.path])
        let report = try #require((json["runs"] as? [[String: Any]])?.first)
        #expect(report["verdict"] as? String == "nonfinite")
        #expect(report["first_alert_step"] as? Int == 50)
    }

    @Test func damagedFilesAreDiagnosticsNotFailures() async throws {
        let folder = try LogFolder()
        try writeRun(folder.path + "/run", steps: 0..<50)
        let file = try #require(try FileManager.default.contentsOfDirectory(atPath: folder.path + "/run").first)
        let path = folder.path + "/run/" + file
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[200] ^= 0x55
        bytes.removeLast(7)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let (status, json) = try await scanJSON([folder.path])
        #expect(status == ExitStatus.success)
        let report = try #require((json["runs"] as? [[String: Any]])?.first)
        let problems = (report["diagnostics"] as? [[String: Any]] ?? []).compactMap { $0["problem"] as? String }
        #expect(problems.contains("truncated"))
        #expect(problems.contains { $0.hasPrefix("bad_") })
    }

    @Test func exportWritesEverySeriesPoint() throws {
        let folder = try LogFolder()
        try writeRun(folder.path + "/r", steps: 0..<10, layers: ["w"], loss: { $0 == 5 ? .nan : nil })
        var csv = ""
        let status = try Export.export(paths: [folder.path], format: .csv, classifier: try TagClassifier(), output: &csv)
        #expect(status == ExitStatus.success)
        let lines = csv.split(separator: "\n")
        #expect(lines.first == "run,segment,tag,role,step,wall_time,value")
        #expect(lines.count == 1 + 10 * 3)  // grad_norm/w, grad_norm/global, loss
        #expect(lines.contains { $0.hasPrefix("r,0,loss,loss,5,") && $0.hasSuffix(",nan") })
        var json = ""
        _ = try Export.export(paths: [folder.path], format: .json, classifier: try TagClassifier(), output: &json)
        let document = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect((document?["series"] as? [Any])?.count == 30)
    }
}

@Suite struct ClassifierTests {
    @Test(arguments: [
        ("grad_norm/global", TagClassifier.ScalarKind.gradient(.globalGradientNorm)),
        ("train/grad_norm", .gradient(.globalGradientNorm)),
        ("gnorm", .gradient(.globalGradientNorm)),
        ("grad/global_norm", .gradient(.globalGradientNorm)),
        ("Gradients/Total", .gradient(.globalGradientNorm)),
        ("grad_norm/dense_3", .gradient(.layerGradientNorm)),
        ("gradients/layer1/kernel_norm", .gradient(.layerGradientNorm)),
        ("gnorm/rnn", .gradient(.layerGradientNorm)),
        ("grad_max/fc1.weight", .gradient(.layerGradientMax)),
        ("loss", .loss),
        ("train/loss", .loss),
        ("lr", .ignored),
        ("accuracy", .ignored),
        ("grad_nonfinite/fc1", .ignored),
        ("grad_norm/softmax.weight", .gradient(.layerGradientNorm)),
        ("grad_norm/maxpool.conv", .gradient(.layerGradientNorm)),
        ("grad_norm/clip_model.visual.proj", .gradient(.layerGradientNorm)),
        ("amp/grad_scale", .ignored),
        ("grad_norm/LayerNorm_0/scale", .gradient(.layerGradientNorm)),
        ("grad_norm/max_pool.weight", .gradient(.layerGradientNorm)),
    ])
    func scalars(tag: String, expected: TagClassifier.ScalarKind) throws {
        #expect(try TagClassifier().classifyScalar(tag) == expected)
    }

    @Test func customPatterns() throws {
        let classifier = try TagClassifier(gradientPattern: "^norms/", lossPattern: "^objective$")
        #expect(classifier.classifyScalar("norms/layer1") == .gradient(.layerGradientNorm))
        #expect(classifier.classifyScalar("grad_norm/x") == .ignored)
        #expect(classifier.classifyScalar("objective") == .loss)
        #expect(classifier.classifyScalar("loss") == .ignored)
    }
}
