import GradientDetection
import Foundation
import GradAlertAnalysis
import GradAlertTestSupport
import Testing

@testable import TensorBoardEvents

/// Data-parallel ranks: several processes writing their own files, with the same tags, into one
/// run folder at the same time.
@Suite struct RankTests {
    @Test func concurrentProcessesIntoOneRunFolder() async throws {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let executable = try #require([here, here.deletingLastPathComponent()].map { $0.appendingPathComponent("gradalert-reliability-writer").path }
            .first { FileManager.default.isExecutableFile(atPath: $0) })
        let folder = try TemporaryDirectory()
        let run = folder.path + "/ddp"
        let ranks = (0..<4).map { _ in Process() }
        for process in ranks {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = [run, "3000", "25", "grad_norm/"]
            process.standardOutput = Pipe()
            try process.run()
        }
        for process in ranks { process.waitUntilExit() }
        #expect(ranks.allSatisfy { $0.terminationStatus == 0 })

        // No torn or interleaved records: every file reads back whole.
        let files = try #require(try LogDirectory.runs(in: run).first?.files)
        #expect(files.count == 4)
        for file in files {
            let entries = EventFileReader(path: file).readAll()
            let events = entries.compactMap { if case .event(let event, _) = $0 { event } else { nil } }
            #expect(entries.count == events.count, "\(file) has diagnostics")
            #expect(events.count == 1 + 3000 + 300)
            var expected: [Int64] = []
            for step in 0..<3000 {
                expected.append(Int64(step))
                if step % 10 == 0 { expected.append(Int64(step)) }
            }
            let steps: [Int64] = events.dropFirst().map(\.step)
            #expect(steps == expected)
        }

        // scan reads the four files as four concurrent writers, not as four restarts.
        let report = try #require(await LogScanner(classifier: try TagClassifier(), configuration: DetectorConfiguration())
            .scan(runs: try RunDiscovery.runs(under: [folder.path])).reports.first)
        #expect(report.streams == 4)
        #expect(report.segments == 1)
        #expect(report.alerts.allSatisfy { !$0.superseded })
        #expect(report.gradientSeries.contains("grad_norm/value"))
        #expect(report.files == 4)

        // watch splits them the same way and raises the same alerts as scan.
        let watcher = LogFollower(logdir: folder.path, classifier: try TagClassifier(), configuration: DetectorConfiguration())
        var watched = watcher.poll().alerts
        watched += watcher.poll().alerts  // the last step of each stream is judged on a quiet poll
        #expect(watcher.streamCounts == ["ddp": 4])
        func key(_ alert: RunAlert) -> String {
            "\(alert.stream) \(alert.alert.step) \(alert.alert.kind.rawValue) \(alert.alert.series)"
        }
        #expect(watched.map { key($0.alert) }.sorted() == report.alerts.map(key).sorted())
    }

    /// Two writers log the same tags into one run folder while watch polls: they are two streams,
    /// so neither looks like a restart of the other, and the spike in the second is reported once,
    /// as the second writer's.
    @Test func watchFollowsTwoConcurrentWriters() throws {
        let folder = try TemporaryDirectory()
        let watcher = LogFollower(logdir: folder.path, classifier: try TagClassifier(), configuration: DetectorConfiguration())
        var options = SummaryWriter.Options()
        options.flushInterval = nil
        let first = try SummaryWriter(logdir: folder.path + "/ddp", options: options)
        try first.flush()  // its first record on disk, and nothing else yet (a buffering writer)
        var reported = watcher.poll().alerts.map(\.alert)
        let second = try SummaryWriter(logdir: folder.path + "/ddp", options: options)
        try second.flush()
        reported += watcher.poll().alerts.map(\.alert)
        for step in 0..<150 {
            for (rank, writer) in [first, second].enumerated() {
                let norm = rank == 1 && step == 100 ? 1e4 : 1 + 0.01 * Double((step + rank) % 7)
                try writer.scalar("grad_norm/global", norm, step: step)
                try writer.scalar("loss", 1, step: step)
            }
            if step % 10 == 9 {
                try first.flush()
                try second.flush()
                reported += watcher.poll().alerts.map(\.alert)
            }
        }
        try first.close()
        try second.close()
        reported += watcher.poll().alerts.map(\.alert)
        reported += watcher.poll().alerts.map(\.alert)
        #expect(watcher.streamCounts == ["ddp": 2])
        #expect(reported.map(\.alert.step) == [100])
        #expect(reported.map(\.alert.kind) == [.spike])
        #expect(reported.map(\.stream) == [1])
        #expect(reported.allSatisfy { $0.segment == 0 })
    }
}
