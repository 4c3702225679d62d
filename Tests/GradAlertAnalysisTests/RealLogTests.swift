import GradientDetection
import Foundation
import TensorBoardEvents
import GradAlertAnalysis
import Testing


/// Real training logs (TensorFlow 2 and tensorboardX, Tools/fixtures/train_runs.sh) with labels
/// computed from the values in memory during training: every exploding run is flagged, no healthy
/// run gets an alert, and the NaN/Inf is reported at its step.
@Suite struct RealLogTests {
    static let trainingDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/training").path

    nonisolated(unsafe) static let labels: [String: [String: Any]] = {
        guard let data = FileManager.default.contents(atPath: trainingDirectory + "/labels.json"),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let runs = object["runs"] as? [String: [String: Any]]
        else { return [:] }
        return runs
    }()

    static var runNames: [String] { labels.keys.sorted() }

    static func scan(_ run: String) async throws -> RunReport {
        let runs = try RunDiscovery.runs(under: [trainingDirectory]).filter { $0.name == run }
        let result = await LogScanner(classifier: try TagClassifier(), configuration: DetectorConfiguration()).scan(runs: runs)
        return try #require(result.reports.first)
    }

    @Test func labelsArePresent() {
        #expect(Self.labels.count >= 15)
        #expect(Self.labels.values.contains { $0["exploding"] as? Bool == true })
        #expect(Self.labels.values.contains { $0["exploding"] as? Bool == false })
    }

    @Test(arguments: runNames)
    func verdictMatchesTheLabel(run: String) async throws {
        let label = try #require(Self.labels[run])
        let report = try await Self.scan(run)
        #expect(report.diagnostics.isEmpty, "\(report.diagnostics)")
        let exploding = label["exploding"] as? Bool ?? false
        let live = report.alerts.filter { !$0.superseded }
        if run.hasPrefix("restart/") {
            // The explosion is in the first segment, which the restart overwrote; the second is healthy.
            #expect(report.segments == 2)
            #expect(!report.alerts.isEmpty)
            #expect(report.alerts.allSatisfy { $0.segment == 0 && $0.superseded })
            return
        }
        if !exploding {
            #expect(report.verdict == .healthy, "\(run): \(report.alerts.map(\.alert.message))")
            return
        }
        #expect(report.verdict != .healthy, "\(run) exploded but was not flagged")
        let first = try #require(live.first?.alert.step)
        if let explosion = label["first_explosion_step"] as? Int {
            // Flagged no later than a few steps after the ground truth (some runs log every few steps).
            #expect(first <= Int64(explosion) + 5, "\(run): first alert at \(first), explosion at \(explosion)")
        }
        if let nonfinite = label["first_nonfinite_step"] as? Int {
            #expect(first <= Int64(nonfinite), "\(run): first alert at \(first), after the NaN/Inf at \(nonfinite)")
            let reported = live.first { $0.alert.kind == .nonfinite }?.alert.step
            if label["job_crashed"] as? Bool != true {
                let reportedStep = try #require(reported, "\(run): no nonfinite alert")
                #expect(reportedStep >= Int64(nonfinite) && reportedStep <= Int64(nonfinite) + 5,
                        "\(run): NaN/Inf at \(nonfinite), reported at \(reportedStep)")
            }
        }
        if label["kind_expected"] as? String == "growth" {
            #expect(live.first?.alert.kind == .growth, "\(run): the slow climb should be warned about as growth first")
        }
    }

    /// Scan reads events in place; `feed(_: Event)` takes decoded ones. Both must find the same
    /// alerts (kind, series, step, value, baseline, origin), series and segments on every real run.
    @Test(arguments: runNames)
    func inPlaceAndDecodedPathsAgree(run: String) throws {
        let files = try #require(try RunDiscovery.runs(under: [Self.trainingDirectory]).first { $0.name == run }?.files)
        let classifier = try TagClassifier()
        var inPlace = StreamAnalysis(run: run, classifier: classifier, configuration: DetectorConfiguration())
        var decoded = StreamAnalysis(run: run, classifier: classifier, configuration: DetectorConfiguration())
        var diagnostics: [RecordDiagnostic] = []
        var events = 0
        for file in files {
            inPlace.consume(EventFileReader(path: file), diagnostics: &diagnostics)
            for entry in EventFileReader(path: file).readAll() {
                if case .event(let event, _) = entry {
                    decoded.feed(event)
                    events += 1
                }
            }
        }
        #expect(events > 0)
        #expect(diagnostics.isEmpty)
        #expect(inPlace.eventsConsumed == decoded.eventsConsumed)
        inPlace.completeStep()
        decoded.completeStep()
        #expect(inPlace.assembler.watchedGradientSeries == decoded.assembler.watchedGradientSeries)
        #expect(inPlace.assembler.lossSeries == decoded.assembler.lossSeries)
        #expect(inPlace.assembler.segments == decoded.assembler.segments)
        func describe(_ alerts: [RunAlert]) -> [String] {
            alerts.map {
                let alert = $0.alert
                return "\(alert.kind) \(alert.series) \(alert.step) \(alert.value.bitPattern) \(alert.baseline?.bitPattern ?? 0) \(alert.origin ?? "-") \($0.segment) \($0.superseded)"
            }
        }
        let a = inPlace.judgedAlerts
        let b = decoded.judgedAlerts
        #expect(describe(a) == describe(b))
        if let label = Self.labels[run], label["exploding"] as? Bool == true { #expect(!a.isEmpty) }
    }
}

/// A run archived with gzip(1) (Tests/Fixtures/gzip, Tools/fixtures/gzip_fixtures.sh) scans exactly
/// as the original: same series, same alerts at the same steps, and no diagnostics.
@Suite struct GzipRunTests {
    @Test func gzipCompressedRunScansAsTheOriginal() async throws {
        let gzipDirectory = URL(fileURLWithPath: RealLogTests.trainingDirectory).deletingLastPathComponent()
            .appendingPathComponent("gzip").path
        let runs = try RunDiscovery.runs(under: [gzipDirectory]).filter { $0.name == "rnn_long_seq" }
        #expect(runs.count == 1)
        #expect(runs.first?.files.allSatisfy { $0.hasSuffix(".gz") } == true)
        let result = await LogScanner(classifier: try TagClassifier(), configuration: DetectorConfiguration()).scan(runs: runs)
        let compressed = try #require(result.reports.first)
        let original = try await RealLogTests.scan("exploding/rnn_long_seq")
        #expect(!original.alerts.isEmpty)
        #expect(compressed.diagnostics.isEmpty)
        #expect(compressed.verdict == original.verdict)
        #expect(compressed.gradientSeries == original.gradientSeries)
        #expect(compressed.lossSeries == original.lossSeries)
        #expect(compressed.alerts.map { "\($0.alert)" } == original.alerts.map { "\($0.alert)" })
    }
}
