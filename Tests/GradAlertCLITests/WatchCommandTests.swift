import ArgumentParser
import Foundation
import GradAlertTestSupport
import GradAlertAnalysis
import GradientDetection
import TensorBoardEvents
import Testing

@testable import GradAlertCLI

/// `gradalert watch` as a user runs it: its own process following a file that is still being
/// written, with --exec.
@Suite struct WatchCommandTests {
    /// Options that only mean something with --metrics-listen are refused without it, as --exec-on
    /// is without --exec; numbers are checked with a message that says the range.
    @Test func optionsThatNeedAnotherAreRefusedWithoutIt() throws {
        func message(_ arguments: [String]) -> String? {
            do {
                _ = try WatchCommand.parse(["logs"] + arguments)
                return nil
            } catch {
                return WatchCommand.message(for: error)
            }
        }
        #expect(message(["--metrics-layers", "3"]) == "--metrics-layers and --incident-grace go with --metrics-listen")
        #expect(message(["--incident-grace", "60"]) == "--metrics-layers and --incident-grace go with --metrics-listen")
        #expect(message(["--metrics-listen", "127.0.0.1:0", "--metrics-layers", "3", "--incident-grace", "60"]) == nil)
        #expect(message(["--metrics-listen", "127.0.0.1:0", "--metrics-layers", "-1"]) == "--metrics-layers, --incident-grace and --forget-after must not be negative")
        #expect(message(["--interval", "0"]) == "--interval must be above 0 and at most 3600 seconds, not 0")
        #expect(message(["--exec-backlog"]) == "--exec-on and --exec-backlog go with --exec")
    }

    static func executable() throws -> String {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [binary, binary.deletingLastPathComponent()].map { $0.appendingPathComponent("gradalert").path }
        return try #require(candidates.first { FileManager.default.isExecutableFile(atPath: $0) }, "build the gradalert product first")
    }

    /// Two layers, their global norm and the loss, with every series NaN at the `broken` steps.
    static func write(_ writer: SummaryWriter, steps: Range<Int>, broken: Set<Int>, wallTime: Double? = nil) throws {
        for step in steps {
            let value = broken.contains(step) ? Double.nan : 1 + 0.01 * Double(step % 3)
            for tag in ["grad_norm/a", "grad_norm/b", "grad_norm/global", "loss"] { try writer.scalar(tag, value, step: step, wallTime: wallTime) }
        }
        try writer.flush()
    }

    /// The backlog is the steps on disk after the first poll, per run and stream, in the segment
    /// being written then: later steps, a restart's new segment, a new run, a second writer and a
    /// run forgotten and written again are all new.
    @Test func backlogIsTheStepsOnDiskAtStart() throws {
        let folder = try TemporaryDirectory()
        var options = SummaryWriter.Options()
        options.flushInterval = nil
        let writer = try SummaryWriter(logdir: folder.path + "/a", options: options)
        try Self.write(writer, steps: 0..<20, broken: [])
        let follower = LogFollower(logdir: folder.path, classifier: try TagClassifier(), configuration: DetectorConfiguration())
        _ = follower.poll()
        var backlog = WatchCommand.Backlog(follower)
        #expect(backlog.contains(run: "a", stream: 0, segment: 0, step: 0))
        #expect(backlog.contains(run: "a", stream: 0, segment: 0, step: 19))
        #expect(!backlog.contains(run: "a", stream: 0, segment: 0, step: 20))
        #expect(!backlog.contains(run: "a", stream: 0, segment: 1, step: 5))
        #expect(!backlog.contains(run: "a", stream: 1, segment: 0, step: 5))
        #expect(!backlog.contains(run: "b", stream: 0, segment: 0, step: 5))
        backlog.forget(run: "a")
        #expect(!backlog.contains(run: "a", stream: 0, segment: 0, step: 5))
        try writer.close()
    }

    /// The incidents already on disk are reported but run no command; each of the two incidents
    /// that happen while watch follows the growing file runs it once — not once per alert (each
    /// incident has four) — with the incident in the environment and its JSON on stdin. SIGTERM
    /// stops watch cleanly. The new steps carry wall times from a clock far behind (1970): what is
    /// new is decided by what was on disk, not by the clock of the machine that wrote it.
    @Test func execRunsOncePerNewIncident() async throws {
        let folder = try TemporaryDirectory()
        var options = SummaryWriter.Options()
        options.flushInterval = nil
        let writer = try SummaryWriter(logdir: folder.path + "/run", options: options)
        // Two incidents on disk before watch starts; the second at the last step written, which
        // watch can only judge on its second poll (the step may still be receiving values).
        try Self.write(writer, steps: 0..<40, broken: [10, 39])
        let hookLog = folder.path + "/hook.log"
        let hookInput = folder.path + "/hook.json"

        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.executable())
        process.arguments = [
            "watch", folder.path, "--format", "jsonl", "--interval", "0.2",
            "--exec", "echo \"$GRADALERT_EVENT $GRADALERT_INCIDENT $GRADALERT_SEVERITY $GRADALERT_LAYERS\" >> '\(hookLog)'; cat >> '\(hookInput)'",
        ]
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = Pipe()
        try process.run()
        try await Task.sleep(for: .seconds(1.5))  // the first polls read the backlog
        try Self.write(writer, steps: 40..<60, broken: [50], wallTime: 1_000_000)
        try await Task.sleep(for: .seconds(1))
        try Self.write(writer, steps: 60..<80, broken: [70], wallTime: 1_000_000)
        var waited = 0
        while (try? String(contentsOfFile: hookLog, encoding: .utf8))?.split(separator: "\n").count ?? 0 < 2, waited < 100 {
            try await Task.sleep(for: .milliseconds(100))
            waited += 1
        }
        try await Task.sleep(for: .seconds(1))  // time for any extra invocation to show up
        process.terminate()  // SIGTERM
        process.waitUntilExit()
        try writer.close()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)

        let invocations = try String(contentsOfFile: hookLog, encoding: .utf8).split(separator: "\n")
        #expect(invocations == ["incident_opened run:0:0:50 critical 2", "incident_opened run:0:0:70 critical 2"])
        let input = try String(contentsOfFile: hookInput, encoding: .utf8).split(separator: "\n")
        #expect(input.count == 2)
        let first = try JSONSerialization.jsonObject(with: Data(input[0].utf8)) as? [String: Any]
        #expect(first?["type"] as? String == "incident")
        #expect(first?["change"] as? String == "opened")
        #expect(first?["id"] as? String == "run:0:0:50")

        // Standard output reports every incident, the backlog's too, and every alert.
        let lines = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        let objects = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let opened = objects.filter { $0["type"] as? String == "incident" && $0["change"] as? String == "opened" }
        #expect(opened.compactMap { $0["opening_step"] as? Int } == [10, 39, 50, 70])
        let closed = objects.filter { $0["type"] as? String == "incident" && $0["change"] as? String == "closed" }
        #expect(closed.compactMap { $0["id"] as? String } == ["run:0:0:10", "run:0:0:39", "run:0:0:50", "run:0:0:70"])
        let alerts = objects.filter { $0["type"] as? String == "alert" }
        #expect(alerts.count == 16)
        #expect(alerts.allSatisfy { $0["kind"] as? String == "nonfinite" && ($0["incident"] as? String)?.hasPrefix("run:0:0:") == true })
        // In order: an incident's opening, then its alerts, then its closing.
        for id in ["run:0:0:10", "run:0:0:39", "run:0:0:50", "run:0:0:70"] {
            let positions = objects.indices.filter { objects[$0]["id"] as? String == id || objects[$0]["incident"] as? String == id }
            let kinds = positions.map { objects[$0]["change"] as? String ?? "alert" }
            #expect(kinds == ["opened", "alert", "alert", "alert", "alert", "closed"], "\(id): \(kinds)")
        }
    }
}
