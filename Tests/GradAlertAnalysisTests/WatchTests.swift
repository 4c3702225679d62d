import GradientDetection
import Foundation
import GradAlertTestSupport
import GradAlertAnalysis
import Testing

@testable import TensorBoardEvents

@Suite struct WatchTests {
    /// A writer appends while the watcher polls: each alert is reported once, when its step has
    /// been written, and new runs are picked up.
    @Test func followsAGrowingLog() async throws {
        let folder = try TemporaryDirectory()
        let watcher = LogFollower(logdir: folder.path, classifier: try TagClassifier(), configuration: .init())
        #expect(watcher.poll().alerts.isEmpty)  // nothing there yet
        var options = SummaryWriter.Options()
        options.flushInterval = nil
        let writer = try SummaryWriter(logdir: folder.path + "/live", options: options)
        var reported: [(Int64, String)] = []
        for step in 0..<120 {
            try writer.scalar("grad_norm/global", step == 100 ? 1e5 : 1 + 0.01 * Double(step % 7), step: step)
            try writer.scalar("loss", step >= 110 ? .nan : 1, step: step)
            if step % 10 == 9 {
                try writer.flush()
                reported += watcher.poll().alerts.map { ($0.alert.alert.step, $0.alert.alert.kind.rawValue) }
                if step == 99 { #expect(reported.isEmpty) }
                if step == 109 { #expect(reported.map(\.0) == [100]) }
            }
        }
        try writer.close()
        reported += watcher.poll().alerts.map { ($0.alert.alert.step, $0.alert.alert.kind.rawValue) }
        #expect(reported.map(\.0) == [100, 110])
        #expect(reported.map(\.1) == ["spike", "nonfinite"])
        #expect(watcher.poll().alerts.isEmpty)  // nothing new, nothing reported again

        let second = try SummaryWriter(logdir: folder.path + "/second")
        try second.scalar("grad_norm", .infinity, step: 0)
        try second.close()
        // Its only step is judged once a poll brings nothing newer (the step could still be filling).
        #expect(watcher.poll().alerts.isEmpty)
        let late = watcher.poll().alerts
        #expect(late.map(\.run) == ["second"])
        #expect(watcher.runNames == ["live", "second"])
    }

    /// `gzip NAME` on a file being followed (NAME.gz appears, NAME goes): the watcher carries on
    /// from where it was, in the same stream. Without that, NAME.gz would be a new writer, read
    /// from its start, and every alert would come again.
    @Test func aFollowedFileReplacedByItsGzipCopyIsNotReadAgain() throws {
        let folder = try TemporaryDirectory()
        let watcher = LogFollower(logdir: folder.path, classifier: try TagClassifier(), configuration: .init())
        let writer = try SummaryWriter(logdir: folder.path + "/run")
        for step in 0..<60 { try writer.scalar("grad_norm/global", step == 50 ? 1e5 : 1 + 0.01 * Double(step % 7), step: step) }
        try writer.flush()
        let first = watcher.poll().alerts + watcher.poll().alerts
        #expect(first.map(\.alert.alert.step) == [50])
        // More records, written before the poll that finds the file compressed.
        for step in 60..<80 { try writer.scalar("grad_norm/global", step == 70 ? .nan : 1, step: step) }
        try writer.close()
        let bytes = try [UInt8](#require(FileManager.default.contents(atPath: writer.path)))
        #expect(FileManager.default.createFile(atPath: writer.path + ".gz", contents: Data(gzipped([bytes]))))
        try FileManager.default.removeItem(atPath: writer.path)
        let after = watcher.poll().alerts + watcher.poll().alerts
        #expect(after.map(\.alert.alert.step) == [70])
        #expect(after.map(\.alert.alert.kind.rawValue) == ["nonfinite"])
        #expect(watcher.streamCounts == ["run": 1])
        #expect((watcher.poll().alerts + watcher.poll().alerts).isEmpty)
    }
}
