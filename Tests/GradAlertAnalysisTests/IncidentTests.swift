import Foundation
import GradAlertAnalysis
import GradAlertTestSupport
import GradientDetection
import TensorBoardEvents
import Testing

/// One explosion is one incident, on real training logs and on the follower as on the scan.
@Suite struct IncidentTests {
    /// A deep ReLU net whose warm-up takes the learning rate too high: ten layers and the loss go
    /// NaN together (24 alerts). That is one incident, opened when the norms first spiked, with the
    /// layer that went first and how many took part.
    @Test func aNaNRunIsOneIncident() async throws {
        let report = try await RealLogTests.scan("exploding/deep_relu_warmup_too_high")
        #expect(report.alerts.count > 10)
        #expect(report.incidents.count == 1)
        let entry = try #require(report.incidents.first)
        let incident = entry.incident
        #expect(incident.openingStep == report.alerts.first?.alert.step)
        #expect(incident.severity == .critical)
        #expect(incident.kinds.contains(.nonfinite) && incident.kinds.contains(.spike))
        #expect(incident.origin == "grad_norm/dense_6")
        #expect(incident.originLayer == "dense_6")
        #expect(incident.layerCount == 10)
        #expect(incident.firstNonfiniteStep == report.alerts.first { $0.alert.kind == .nonfinite }?.alert.step)
        #expect(incident.alerts.map { "\($0)" } == report.alerts.map { "\($0.alert)" })  // (NaN values: compared as text)
        #expect(report.alerts.allSatisfy { $0.incident == entry.id })
        #expect(entry.id == "exploding/deep_relu_warmup_too_high:0:0:\(incident.openingStep)")
        #expect(incident.headline.hasPrefix("gradients became NaN at step"))
        #expect(incident.headline.contains("in 10 layers, first dense_6"))
        // Remedies once, for the incident, most likely first.
        #expect(!incident.remedies.isEmpty && Set(incident.remedies).count == incident.remedies.count)
    }

    /// A slow climb (growth, a warning) that turns into a spike and then Inf: one incident that
    /// opens as a warning, escalates to critical, and escalates again when it turns Inf.
    @Test func aClimbThatSpikesEscalatesOneIncident() async throws {
        let report = try await RealLogTests.scan("exploding/lr_range_test_growth")
        #expect(report.incidents.count == 1)
        let incident = try #require(report.incidents.first?.incident)
        #expect(incident.alerts.first?.kind == .growth && incident.alerts.first?.severity == .warning)
        #expect(incident.severity == .critical)
        // The same, event by event, as the stream saw it.
        let run = try #require(try RunDiscovery.runs(under: [RealLogTests.trainingDirectory]).first { $0.name == "exploding/lr_range_test_growth" })
        let analyzer = RunAnalyzer(name: run.name, classifier: try TagClassifier(), configuration: DetectorConfiguration())
        for file in run.files { analyzer.read(file) }
        _ = analyzer.finish()
        let events = analyzer.events(of: 0, from: 0)
        #expect(events.map(\.change) == [.opened, .escalated, .escalated])
        #expect(events.first?.incident.incident.severity == .warning)
        #expect(events[1].incident.incident.severity == .critical)
        #expect(events[1].incident.incident.firstNonfiniteStep == nil)
        #expect(events.last?.incident.incident.firstNonfiniteStep == events.last?.step, "the second escalation is the step it went non-finite")
        #expect(Set(events.map(\.incident.id)).count == 1)
    }

    /// Two explosions far apart, each back to normal before the next, are two incidents; the
    /// first closes before the second opens.
    @Test func twoSeparateExplosionsAreTwoIncidents() async throws {
        let folder = try TemporaryDirectory()
        try writeRun(folder.path + "/twice", steps: 0..<300, layers: ["fc1", "fc2", "fc3"], norm: { step, _ in
            (100..<103).contains(step) || (200..<203).contains(step) ? 500 : nil
        })
        let report = try #require(await LogScanner(classifier: try TagClassifier(), configuration: DetectorConfiguration())
            .scan(runs: try RunDiscovery.runs(under: [folder.path])).reports.first)
        #expect(report.incidents.map(\.incident.openingStep) == [100, 200])
        #expect(report.incidents.allSatisfy { $0.incident.layerCount == 3 && !$0.incident.isOpen })
        let first = try #require(report.incidents.first?.incident.closingStep)
        #expect(first < 200)
        #expect(report.alerts.count > report.incidents.count)
    }

    /// A file of zeros, an empty file and a run that logs only a learning rate: nothing to judge.
    @Test func runsWithNothingToJudgeHaveNoData() async throws {
        let folder = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: folder.path + "/zeros", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: folder.path + "/zeros/events.out.tfevents.1.zeros", contents: Data(count: 1 << 20)))
        try FileManager.default.createDirectory(atPath: folder.path + "/empty", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: folder.path + "/empty/events.out.tfevents.1.empty", contents: Data()))
        let writer = try SummaryWriter(logdir: folder.path + "/lr-only")
        for step in 0..<10 { try writer.scalar("lr", 0.1, step: step) }
        try writer.close()
        let reports = await LogScanner(classifier: try TagClassifier(), configuration: DetectorConfiguration())
            .scan(runs: try RunDiscovery.runs(under: [folder.path])).reports
        #expect(reports.map(\.run) == ["empty", "lr-only", "zeros"])
        #expect(reports.allSatisfy { $0.verdict == .noData })
        #expect(reports[0].noDataReason == "its file is empty")
        #expect(reports[1].noDataReason?.hasPrefix("no gradient or loss series") == true)
        #expect(reports[2].noDataReason?.hasPrefix("no intact record in its file") == true)
        #expect(reports[2].noDataReason?.contains("not named like an event file") == false)

        // A file given by path that is not named like an event file: the reason asks whether it is one.
        #expect(FileManager.default.createFile(atPath: folder.path + "/notes.txt", contents: Data("some notes\n".utf8)))
        let notes = await LogScanner(classifier: try TagClassifier(), configuration: DetectorConfiguration())
            .scan(runs: try RunDiscovery.runs(under: [folder.path + "/notes.txt"])).reports
        #expect(notes.count == 1 && notes[0].verdict == .noData)
        #expect(notes.first?.noDataReason?.hasSuffix("notes.txt is not named like an event file (events.out.tfevents.*): is it one?") == true, "\(notes.first?.noDataReason ?? "")")
    }

    /// Following every training fixture to its end finds the incidents scan finds: the same ids,
    /// opening and closing steps, severities and origins; each opened once.
    @Test func followerAndScanAgreeOnIncidents() async throws {
        let folder = try TemporaryDirectory()
        // The follower needs a logdir of its own to follow: copy the fixtures in.
        let fixtures = RealLogTests.trainingDirectory
        for name in ["exploding", "healthy", "restart"] {
            try FileManager.default.copyItem(atPath: fixtures + "/" + name, toPath: folder.path + "/" + name)
        }
        let follower = LogFollower(logdir: folder.path, classifier: try TagClassifier(), configuration: DetectorConfiguration())
        var events: [RunIncidentEvent] = []
        for _ in 0..<3 { events += follower.poll().incidents }  // the last steps are judged on quiet polls
        let scanned = await LogScanner(classifier: try TagClassifier(), configuration: DetectorConfiguration())
            .scan(runs: try RunDiscovery.runs(under: [folder.path])).reports.flatMap(\.incidents)
        #expect(!scanned.isEmpty)
        let opened = events.filter { $0.change == .opened }
        #expect(opened.map(\.incident.id).sorted() == scanned.map(\.id).sorted())
        let followed = Dictionary(grouping: events, by: \.incident.id).mapValues { $0.last!.incident.incident }
        for entry in scanned {
            let last = try #require(followed[entry.id])
            #expect(last.openingStep == entry.incident.openingStep)
            #expect(last.closingStep == entry.incident.closingStep, "\(entry.id)")
            #expect(last.severity == entry.incident.severity, "\(entry.id)")
            #expect(last.origin == entry.incident.origin, "\(entry.id)")
        }
    }
}
