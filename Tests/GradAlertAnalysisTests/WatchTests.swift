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

    /// The real command, in its own process: prints alerts as JSON lines, runs --exec with the
    /// alert on stdin, and stops cleanly on SIGTERM.
    @Test func commandStopsOnSIGTERM() async throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [binary, binary.deletingLastPathComponent()].map { $0.appendingPathComponent("gradalert").path }
        let executable = try #require(candidates.first { FileManager.default.isExecutableFile(atPath: $0) }, "build the gradalert product first")
        let folder = try TemporaryDirectory()
        let writer = try SummaryWriter(logdir: folder.path + "/run")
        for step in 0..<30 { try writer.scalar("grad_norm/global", step == 25 ? .nan : 1, step: step) }
        try writer.close()
        let hookOutput = folder.path + "/hook.json"

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["watch", folder.path, "--format", "jsonl", "--interval", "0.2", "--exec", "cat > '\(hookOutput)'"]
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = Pipe()
        try process.run()
        var waited = 0
        while !FileManager.default.fileExists(atPath: hookOutput) && waited < 100 {
            try await Task.sleep(for: .milliseconds(100))
            waited += 1
        }
        try await Task.sleep(for: .milliseconds(300))
        process.terminate()  // SIGTERM
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
        let lines = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 1)
        let alert = try JSONSerialization.jsonObject(with: Data(lines.first.map(String.init)?.utf8 ?? "".utf8)) as? [String: Any]
        #expect(alert?["kind"] as? String == "nonfinite")
        #expect(alert?["run"] as? String == "run")
        #expect(alert?["step"] as? Int == 25)
        let hook = try String(contentsOfFile: hookOutput, encoding: .utf8)
        #expect(hook.contains("\"kind\":\"nonfinite\""))
    }
}
