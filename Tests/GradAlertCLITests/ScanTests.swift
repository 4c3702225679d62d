import ArgumentParser
import GradientDetection
import Foundation
import GradAlertTestSupport
import GradAlertAnalysis
import Testing

@testable import GradAlertCLI
@testable import TensorBoardEvents

func scanJSON(_ paths: [String], _ extra: [String] = []) async throws -> (status: Int32, json: [String: Any]) {
    var command = try Scan.parse(paths + ["--format", "json"] + extra)
    try command.validate()
    var output = ""
    let status = try await command.execute(output: &output)
    let json = output.isEmpty ? [:] : try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] ?? [:]
    return (status, json)
}

@Suite struct ScanTests {
    /// The detector options are checked by the library's `validate()`, with the option's name in
    /// the message; negative numbers are read as values (not as unknown options), and 0 turns
    /// --absolute-bound and --early-loss-jump off where a negative value is refused.
    @Test func detectorOptionsAreCheckedByTheLibrary() throws {
        func message(_ arguments: [String]) -> String? {
            do {
                var command = try Scan.parse(["logs"] + arguments)
                try command.validate()
                return nil
            } catch {
                return Scan.message(for: error)
            }
        }
        #expect(message(["--spike-window", "3"]) == "--spike-window must be between 10 (the robust test needs 10 earlier values) and 100000 (it is 3)")
        #expect(message(["--growth-factor", "-3"]) == "--growth-factor must be a finite number above 1 (it is -3.0)")
        #expect(message(["--growth-window", "1000000000"])?.hasPrefix("--growth-window must be between 3 and 100000") == true)
        #expect(message(["--absolute-bound", "-5"]) == "--absolute-bound must be 0 (off) or above (it is -5.0)")
        #expect(message(["--early-loss-jump", "0.5"]) == "--early-loss-jump must be a finite number above 1, or 0 (off) (it is 0.5)")
        #expect(message(["--critical-above", "nan"]) == "--critical-above must be a finite number (it is nan)")
        #expect(message(["--absolute-bound", "0", "--early-loss-jump", "0"]) == nil)
        #expect(message(["--spike-ratio", "20", "--warn-above", "1", "--critical-above", "3"]) == nil)
    }

    @Test func healthyAndExplodingRuns() async throws {
        let folder = try TemporaryDirectory()
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
        // One incident, and every alert points at it.
        let incidents = try #require(exploding["incidents"] as? [[String: Any]])
        #expect(incidents.count == 1)
        let incident = try #require(incidents.first)
        for key in ["id", "stream", "segment", "opening_step", "opening_wall_time", "closing_step", "open", "severity", "kinds",
                    "origin", "origin_layer", "layers", "gradient_series", "peak_value", "peak_series", "peak_ratio",
                    "first_nonfinite_step", "loss_broke_first", "superseded", "alert_count", "summary", "remedies", "remedy_ids"] {
            #expect(incident[key] != nil, "incident lacks \(key)")
        }
        #expect(incident["severity"] as? String == "critical")
        #expect(incident["origin"] as? String == "grad_norm/fc2" && incident["origin_layer"] as? String == "fc2")
        #expect(incident["alert_count"] as? Int == alerts.count)
        #expect(alerts.allSatisfy { $0["incident"] as? String == incident["id"] as? String })
        #expect(json["schema"] as? Int == 2)
        let series = try #require(exploding["series"] as? [String: [String]])
        #expect(series["gradient"] == ["grad_norm/fc1", "grad_norm/fc2", "grad_norm/global"])
        #expect(series["loss"] == ["loss"])  // "lr" is ignored
        let healthy = runs[1]
        #expect(healthy["verdict"] as? String == "healthy")
        #expect(healthy["first_alert_step"] is NSNull)
        #expect(healthy["origin"] is NSNull)
        #expect((healthy["incidents"] as? [Any])?.isEmpty == true)
        #expect(healthy["no_data_reason"] is NSNull)
        let summary = try #require(json["summary"] as? [String: Any])
        #expect(summary["runs"] as? Int == 2 && summary["healthy"] as? Int == 1 && summary["alerting"] as? Int == 1)
        #expect(summary["files"] as? Int == 2)
        #expect((summary["bytes"] as? Int ?? 0) > 1000)
    }

    @Test func failOnDecidesTheExitStatus() async throws {
        let folder = try TemporaryDirectory()
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

    /// A run with nothing to judge is "no data", with its reason; --fail-on warning (the
    /// default) fails on it, critical does not.
    @Test func noDataRunsFailTheDefaultCheck() async throws {
        let folder = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: folder.path + "/zeros", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: folder.path + "/zeros/events.out.tfevents.1.zeros", contents: Data(count: 4096)))
        let (status, json) = try await scanJSON([folder.path])
        let run = try #require((json["runs"] as? [[String: Any]])?.first)
        #expect(run["verdict"] as? String == "no_data")
        #expect((run["no_data_reason"] as? String)?.contains("no intact record") == true)
        #expect((json["summary"] as? [String: Any])?["no_data"] as? Int == 1)
        #expect(status == ExitStatus.found)
        #expect(try await scanJSON([folder.path], ["--fail-on", "critical"]).status == ExitStatus.success)
        var text = ""
        var command = try Scan.parse([folder.path])
        try command.validate()
        _ = try await command.execute(output: &text)
        #expect(text.contains("NO DATA"))
        #expect(text.contains("1 no data"))
    }

    @Test func usageErrorsExitTwo() async throws {
        #expect(try await scanJSON(["/nonexistent/logs"]).status == ExitStatus.usage)
        let folder = try TemporaryDirectory()
        #expect(try await scanJSON([folder.path]).status == ExitStatus.usage)  // no event files
        #expect(throws: (any Error).self) {
            var command = try Scan.parse([folder.path, "--grad-tags", "(unclosed"])
            try command.validate()
        }
    }

    /// A job that exploded, was restarted from an earlier step, and then trained fine: TensorBoard
    /// shows only the restart, but scan reports the explosion, marked as superseded.
    @Test func restartSegmentsAreScannedAndMarked() async throws {
        let folder = try TemporaryDirectory()
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
        let folder = try TemporaryDirectory()
        try writeRun(folder.path + "/layers", steps: 0..<150, layers: ["a", "b", "c"], global: false, norm: { step, layer in
            step >= 120 && layer == "b" ? 500 : nil
        })
        let (_, json) = try await scanJSON([folder.path])
        let report = try #require((json["runs"] as? [[String: Any]])?.first)
        let gradient = (report["series"] as? [String: [String]])?["gradient"] ?? []
        #expect(gradient.contains(StepAssembler.derivedGlobalName))
        let alerts = report["alerts"] as? [[String: Any]] ?? []
        #expect(alerts.contains { $0["tag"] as? String == StepAssembler.derivedGlobalName && $0["kind"] as? String == "spike" })
        #expect(report["origin"] as? String == "grad_norm/b")
    }

    /// Gradient histograms are series too: norm = sqrt(sum_squares), NaN when the values were.
    @Test func histogramsGiveNorms() async throws {
        let folder = try TemporaryDirectory()
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
        let folder = try TemporaryDirectory()
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
        let folder = try TemporaryDirectory()
        try writeRun(folder.path + "/r", steps: 0..<10, layers: ["w"], loss: { $0 == 5 ? .nan : nil })
        var csv = ""
        let status = try Export.export(paths: [folder.path], format: .csv, classifier: try TagClassifier(), output: &csv)
        #expect(status == ExitStatus.success)
        let lines = csv.split(separator: "\n")
        #expect(lines.first == "run,stream,segment,tag,role,step,wall_time,value")
        #expect(lines.count == 1 + 10 * 3)  // grad_norm/w, grad_norm/global, loss
        #expect(lines.contains { $0.hasPrefix("r,0,0,loss,loss,5,") && $0.hasSuffix(",nan") })
        var json = ""
        _ = try Export.export(paths: [folder.path], format: .json, classifier: try TagClassifier(), output: &json)
        let document = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect((document?["series"] as? [Any])?.count == 30)
    }

    /// Two writers logging into one run folder at the same time (data-parallel ranks) are two
    /// streams in export, as in scan, not one series that keeps restarting.
    @Test func exportNumbersConcurrentWritersAsStreams() throws {
        let folder = try TemporaryDirectory()
        let rank0 = try SummaryWriter(logdir: folder.path + "/ddp")
        let rank1 = try SummaryWriter(logdir: folder.path + "/ddp")
        for step in 0..<5 {
            try rank0.scalar("loss", 1.0, step: step)
            try rank1.scalar("loss", 2.0, step: step)
        }
        try rank0.close()
        try rank1.close()
        var csv = ""
        #expect(try Export.export(paths: [folder.path], format: .csv, classifier: try TagClassifier(), output: &csv) == ExitStatus.success)
        let rows = csv.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(rows.count == 10)
        // Every value of a stream is its own writer's, and no row starts a new segment.
        #expect(Set(rows.filter { $0[1] == "0" }.map { $0[7] }).count == 1)
        #expect(Set(rows.filter { $0[1] == "1" }.map { $0[7] }).count == 1)
        #expect(rows.filter { $0[1] == "1" }.count == 5)
        #expect(rows.allSatisfy { $0[2] == "0" })
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
        ("train/grad_norm_clipped", .gradient(.clippedGradientNorm)),
        ("grad_norm_post_clip", .gradient(.clippedGradientNorm)),
        ("train/grad_norm_before_clip", .gradient(.globalGradientNorm)),
        ("grad_norm_unclipped", .gradient(.globalGradientNorm)),
        ("train/grad_clip_coef", .ignored),
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
        // GradientMonitor's own update ratios and weight histograms, whatever the parameter's name.
        ("update_ratio/grad_proj.weight", .ignored),
        ("update_ratio/loss_head.bias", .ignored),
    ])
    func scalars(tag: String, expected: TagClassifier.ScalarKind) throws {
        #expect(try TagClassifier().classifyScalar(tag) == expected)
    }

    @Test func weightHistogramsAreNotGradients() throws {
        let classifier = try TagClassifier()
        #expect(!classifier.isGradientHistogram("weights/grad_proj.weight"))
        #expect(classifier.isGradientHistogram("grad/grad_proj.weight"))
    }

    @Test func customPatterns() throws {
        let classifier = try TagClassifier(gradientPattern: "^norms/", lossPattern: "^objective$")
        #expect(classifier.classifyScalar("norms/layer1") == .gradient(.layerGradientNorm))
        #expect(classifier.classifyScalar("grad_norm/x") == .ignored)
        #expect(classifier.classifyScalar("objective") == .loss)
        #expect(classifier.classifyScalar("loss") == .ignored)
    }
}
