import Foundation
import GradAlertTestSupport
import Testing

@testable import TensorBoardEvents

@Suite struct WriterTests {
    @Test func fileNameAndFirstRecord() throws {
        let directory = try TemporaryDirectory()
        let writer = try SummaryWriter(logdir: directory.path + "/a/b/run")
        try writer.close()
        let name = (writer.path as NSString).lastPathComponent
        let parts = name.split(separator: ".")
        #expect(name.hasPrefix("events.out.tfevents."))
        #expect(parts.count >= 6)
        #expect(parts[3].count == 10 && parts[3].allSatisfy(\.isNumber))
        #expect(parts[parts.count - 2] == Substring(String(getpid())))
        let (events, diagnostics) = readEntries(writer.path)
        #expect(diagnostics.isEmpty)
        #expect(events.count == 1)
        guard case .fileVersion("brain.Event:2") = events.first?.content else {
            Issue.record("first record is not file_version brain.Event:2")
            return
        }
    }

    @Test func everyKindRoundTrips() throws {
        let directory = try TemporaryDirectory()
        let writer = try SummaryWriter(logdir: directory.path)
        try writer.scalar("loss", 0.25, step: 3, wallTime: 1_700_000_000.125)
        try writer.scalar("neg", -1.5, step: -7, wallTime: 1)
        try writer.scalar("big step", .nan, step: 1 << 40, wallTime: 2)
        let values: [Float] = [0.5, -0.25, 3, 3, 1e-13, 0]
        let written = try writer.histogram("grad/fc1.weight", values: values, step: 3)
        try writer.text("notes/ünï", "**bold** — 你好", step: 4)
        let pixels = [UInt8](repeating: 200, count: 5 * 2 * 4)
        try writer.image("picture", rgba: pixels, width: 5, height: 2, step: 5)
        try writer.close()

        let (events, diagnostics) = readEntries(writer.path)
        #expect(diagnostics.isEmpty)
        #expect(events.count == 7)
        let all = events.dropFirst().map { ($0, $0.summaryValues.first!) }
        #expect(all[0].0.step == 3 && all[0].0.wallTime == 1_700_000_000.125)
        guard case .scalar(0.25) = all[0].1.value else { Issue.record("loss"); return }
        #expect(all[1].0.step == -7)
        guard case .scalar(-1.5) = all[1].1.value else { Issue.record("neg"); return }
        #expect(all[2].0.step == 1 << 40)
        guard case .scalar(let nan) = all[2].1.value, nan.isNaN else { Issue.record("nan"); return }
        guard case .histogram(let histogram) = all[3].1.value else { Issue.record("histogram"); return }
        var expected = written
        expected.nonFinite = NonFiniteCounts()
        #expect(histogram == expected)
        #expect(all[4].1.tag == "notes/ünï" && all[4].1.pluginName == "text")
        guard case .text(["**bold** — 你好"]) = all[4].1.value else { Issue.record("text"); return }
        guard case .image(let image) = all[5].1.value else { Issue.record("image"); return }
        #expect(image.width == 5 && image.height == 2 && image.colorspace == 4 && image.format == "png")
        #expect(image.encoded == [try PNG.encode(pixels: pixels, width: 5, height: 2)])
    }

    @Test func wallTimeDefaultsToNow() throws {
        let directory = try TemporaryDirectory()
        let before = Date().timeIntervalSince1970
        let writer = try SummaryWriter(logdir: directory.path)
        try writer.scalar("x", 1, step: 0)
        try writer.close()
        let after = Date().timeIntervalSince1970
        let event = readEntries(writer.path).events.last!
        #expect(event.wallTime >= before - 0.01 && event.wallTime <= after + 0.01)
    }

    /// Records wait in the buffer until a flush trigger: size, interval, flush(), close().
    @Test func bufferingAndFlushTriggers() throws {
        let directory = try TemporaryDirectory()
        var options = SummaryWriter.Options()
        options.flushInterval = nil
        options.flushBytes = 4096
        let writer = try SummaryWriter(logdir: directory.path, options: options)
        let header = writer.bytesWritten
        try writer.scalar("a", 1, step: 1)
        #expect(writer.bytesWritten == header)
        #expect(writer.pendingBytes > 0)
        try writer.flush()
        #expect(writer.pendingBytes == 0)
        #expect(readEntries(writer.path).events.count == 2)
        for step in 0..<200 { try writer.scalar("a", 1, step: step) }  // passes 4 KiB
        #expect(writer.bytesWritten > 4096)
        try writer.close()
        #expect(readEntries(writer.path).events.count == 202)
        #expect(throws: SummaryWriterError.self) { try writer.scalar("a", 1, step: 1) }
        try writer.close()  // closing twice is harmless
    }

    @Test func flushesOnItsOwnAfterTheInterval() async throws {
        let directory = try TemporaryDirectory()
        var options = SummaryWriter.Options()
        options.flushInterval = .milliseconds(200)
        let writer = try SummaryWriter(logdir: directory.path, options: options)
        try writer.scalar("a", 1, step: 1)
        #expect(readEntries(writer.path).events.count == 1)
        var waited = 0
        while readEntries(writer.path).events.count < 2 && waited < 50 {
            try await Task.sleep(for: .milliseconds(100))
            waited += 1
        }
        #expect(readEntries(writer.path).events.count == 2)
        #expect(waited < 20, "the timed flush should come after about 200 ms")
        try writer.close()
    }

    /// Many tasks writing through one writer: every record arrives whole.
    @Test func concurrentWriters() async throws {
        let directory = try TemporaryDirectory()
        var options = SummaryWriter.Options()
        options.flushBytes = 1024
        let writer = try SummaryWriter(logdir: directory.path, options: options)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for step in 0..<500 {
                        try writer.scalar("task\(task)", Double(step), step: step)
                        if step % 50 == 0 { try writer.histogram("h\(task)", values: [Float(step), 1, 2], step: step) }
                    }
                }
            }
            try await group.waitForAll()
        }
        try writer.close()
        let (events, diagnostics) = readEntries(writer.path)
        #expect(diagnostics.isEmpty)
        let found = scalars(events)
        #expect(found.count == 8 * 500)
        for task in 0..<8 {
            let steps = found.filter { $0.tag == "task\(task)" }.map(\.step).sorted()
            #expect(steps == (0..<500).map(Int64.init))
        }
    }

    @Test func directoryThatCannotBeCreated() throws {
        let directory = try TemporaryDirectory()
        let blocker = directory.path + "/file"
        _ = FileManager.default.createFile(atPath: blocker, contents: Data([1]))
        do {
            _ = try SummaryWriter(logdir: blocker + "/run")
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == .cannotCreateDirectory)
            #expect(error.path == blocker + "/run")
            #expect(error.description.contains(blocker))
            #expect(error.code == ENOTDIR)
            #expect(error.reason.hasPrefix("cannot create the log directory: \(blocker) is a file, not a folder"), "\(error.reason)")
        }
        // The folder itself is a file; an empty path.
        #expect(throws: SummaryWriterError.self) { _ = try SummaryWriter(logdir: blocker) }
        do {
            _ = try SummaryWriter(logdir: "")
            Issue.record("expected an error")
        } catch {
            #expect(error.reason.hasPrefix("cannot create the log directory: the path is empty"), "\(error.reason)")
        }
    }

    @Test func writeFailureKeepsRecordsAndNamesThePath() throws {
        // A real file system that is full: the writer must say so, name the file, keep the
        // records, and close cleanly.
        guard let disk = try SmallFileSystem(kilobytes: 256) else {
            withKnownIssue("cannot mount a tmpfs here (not root?)") { Issue.record("tmpfs mount failed") }
            return
        }
        let writer = try SummaryWriter(logdir: disk.path + "/run")
        try writer.scalar("kept", 1, step: 1)
        try writer.flush()
        try disk.fill(leaving: 0)
        try writer.text("pending", String(repeating: "x", count: 20_000), step: 2)
        do {
            try writer.flush()
            Issue.record("expected ENOSPC")
        } catch {
            #expect(error.kind == .writeFailed)
            #expect(error.code == ENOSPC)
            #expect(error.description.contains(writer.path))
        }
        #expect(writer.pendingBytes > 0)
        #expect(throws: SummaryWriterError.self) { try writer.close() }
        let (events, diagnostics) = readEntries(writer.path)
        #expect(diagnostics.isEmpty)
        #expect(scalars(events).map(\.tag) == ["kept"])
    }
}
