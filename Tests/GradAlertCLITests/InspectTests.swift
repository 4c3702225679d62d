import Foundation
import GradAlertAnalysis
import Testing

@testable import GradAlertCLI
@testable import TensorBoardEvents

@Suite struct InspectTests {
    func makeLog() throws -> (directory: String, file: String) {
        let directory = FileManager.default.temporaryDirectory.path + "/gradalert-cli-" + UUID().uuidString
        let writer = try SummaryWriter(logdir: directory + "/run1")
        try writer.scalar("loss", 0.5, step: 1, wallTime: 100)
        try writer.scalar("grad_norm", .nan, step: 2, wallTime: 101)
        try writer.histogram("grad/w", values: [Float(1), 2, 3], step: 2, wallTime: 101)
        try writer.text("notes", "hello\nworld", step: 3, wallTime: 102)
        try writer.close()
        return (directory, writer.path)
    }

    @Test func textListsEveryRecord() throws {
        let (directory, file) = try makeLog()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var output = ""
        let status = try Inspect.inspect(paths: [directory], format: .text, output: &output)
        #expect(status == ExitStatus.success)
        #expect(output.contains("== \(file)"))
        #expect(output.contains("scalar loss = 0.5"))
        #expect(output.contains("step 1 1970-01-01T00:01:40.000Z scalar loss"), "wall times in UTC, marked Z")
        #expect(output.contains("scalar grad_norm = nan"))
        #expect(output.contains("histogram grad/w n=3.0 min=1.0 max=3.0"))
        #expect(output.contains("text notes \"hello⏎world\""))
        #expect(output.contains("-- 5 records, 0 problems"))
    }

    /// A gzip-compressed copy prints the same records at the same offsets, and says its offsets
    /// are in the decompressed data.
    @Test func gzipFileListsTheSameRecords() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").path
        let plain = fixtures + "/tensorboardx/histograms/events.out.tfevents.1795916572.gradalert-fixtures"
        let compressed = fixtures + "/gzip/tensorboardx-histograms/events.out.tfevents.1795916572.gradalert-fixtures.gz"
        var expected = ""
        var output = ""
        #expect(try Inspect.inspect(paths: [plain], format: .text, output: &expected) == ExitStatus.success)
        #expect(try Inspect.inspect(paths: [compressed], format: .text, output: &output) == ExitStatus.success)
        let records = { (text: String) in text.split(separator: "\n").filter { $0.hasPrefix("@") } }
        #expect(records(output).count > 5)
        #expect(records(output) == records(expected))
        #expect(output.contains("(gzip; the offsets are in the decompressed data)"))
        #expect(!expected.contains("gzip"))
    }

    @Test func jsonIsOneObjectPerRecord() throws {
        let (directory, _) = try makeLog()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var output = ""
        let status = try Inspect.inspect(paths: [directory], format: .json, output: &output)
        #expect(status == ExitStatus.success)
        let lines = output.split(separator: "\n")
        #expect(lines.count == 5)
        let objects = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(objects[0]["kind"] as? String == "file_version")
        let loss = (objects[1]["values"] as? [[String: Any]])?.first
        #expect(loss?["tag"] as? String == "loss" && loss?["value"] as? Double == 0.5)
        #expect(objects[1]["wall_time"] as? Double == 100)
        let nan = (objects[2]["values"] as? [[String: Any]])?.first
        #expect(nan?["value"] as? String == "NaN")
        let histogram = (objects[3]["values"] as? [[String: Any]])?.first
        #expect(histogram?["num"] as? Double == 3 && histogram?["sum_squares"] as? Double == 14)
    }

    @Test func damageIsReportedWithOffsetAndExitOne() throws {
        let (directory, file) = try makeLog()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        bytes[55] ^= 0xFF  // inside the second record's data (its 12-byte header starts at 40)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        var output = ""
        let status = try Inspect.inspect(paths: [file], format: .json, output: &output)
        #expect(status == ExitStatus.found)
        #expect(output.contains("\"problem\":\"bad_data_crc\""))
        #expect(output.contains("\"offset\":40"))
        #expect(output.contains("\"tag\":\"grad_norm\""))  // records after the damage are still read
    }

    @Test func missingPathIsAUsageError() throws {
        var output = ""
        #expect(try Inspect.inspect(paths: ["/nonexistent/x"], format: .text, output: &output) == ExitStatus.usage)
        let empty = FileManager.default.temporaryDirectory.path + "/gradalert-empty-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect(try Inspect.inspect(paths: [empty], format: .text, output: &output) == ExitStatus.usage)
    }
}
