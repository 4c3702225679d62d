import ArgumentParser
import Foundation
import GradAlertAnalysis
import GradientDetection
import TensorBoardEvents

/// `gradalert watch`: alerts as training writes them.
public struct WatchCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Follow a log directory while training runs and print each alert as it happens.",
        discussion: """
            Polls LOGDIR every --interval seconds for new runs, new event files and records \
            appended to existing ones, and runs the same detector as `scan` over them. Existing \
            records are read first, so alerts already in the logs are printed too. Files that \
            several processes write into one run folder at the same time (data-parallel ranks) \
            are followed as separate writers, as scan reads them, not as restarts.

            --format jsonl prints one JSON object per alert (the alert fields of scan's JSON, \
            plus "run"). --exec CMD runs CMD with /bin/sh for every alert, the alert's JSON \
            on its standard input and GRADALERT_RUN, GRADALERT_KIND, GRADALERT_SEVERITY, \
            GRADALERT_TAG and GRADALERT_STEP in its environment (send a message, stop the job…).

            Stops cleanly on Ctrl-C (SIGINT) or SIGTERM; exit status 0, or 2 on a usage error.

            Examples:
              gradalert watch runs/
              gradalert watch runs/ --format jsonl --exec 'curl -s -d @- https://hooks.example/alert'
            """
    )

    public enum Format: String, ExpressibleByArgument, CaseIterable, Sendable {
        case text, jsonl
    }

    @Argument(help: "The log directory to follow (it may not exist yet).")
    public var logdir: String

    @Option(help: "Output: text, or jsonl (one JSON object per alert).")
    public var format: Format = .text

    @Option(help: ArgumentHelp("Seconds between polls.", valueName: "seconds"))
    public var interval: Double = 2

    @Option(name: .customLong("exec"), help: ArgumentHelp("Shell command run for every alert, the alert JSON on stdin.", valueName: "command"))
    public var command: String?

    @OptionGroup(title: "Detector")
    public var detector: DetectorOptions

    public init() {}

    public mutating func validate() throws {
        guard interval > 0, interval <= 3600 else { throw ValidationError("--interval must be between 0 and 3600 seconds") }
    }

    public func run() async throws {
        // An --exec command that does not read its standard input must not kill us with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        let watcher = LogFollower(logdir: logdir, classifier: try detector.classifier(), configuration: try detector.checkedConfiguration())
        let stop = StopSignal()
        let colour = isatty(1) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        if format == .text {
            printError("gradalert watch: following \(logdir) every \(interval) s (Ctrl-C to stop)")
        }
        var alerts = 0
        while !stop.requested {
            let (findings, diagnostics) = watcher.poll()
            for finding in findings {
                alerts += 1
                emit(finding, colour: colour)
            }
            for diagnostic in diagnostics {
                printError("gradalert watch: \(diagnostic)")
            }
            var waited = 0.0
            while waited < interval && !stop.requested {
                try? await Task.sleep(for: .milliseconds(100))
                waited += 0.1
            }
        }
        if format == .text {
            printError("gradalert watch: stopped; \(alerts) alert(s) in \(watcher.runNames.count) run(s)")
        }
    }

    private func emit(_ finding: LogFollower.Finding, colour: Bool) {
        var json = JSONWriter()
        ScanJSON.alert(finding.alert, run: finding.run, into: &json)
        switch format {
        case .text:
            let text = ScanText(colour: colour).alertLines(finding.alert, run: finding.run)
            FileHandle.standardOutput.write(Data(text.utf8))
        case .jsonl:
            FileHandle.standardOutput.write(Data((json.output + "\n").utf8))
        }
        if let command { Self.execute(command, input: json.output, finding: finding) }
    }

    /// Runs `command` through /bin/sh with the alert JSON on stdin; its failure is reported, not fatal.
    static func execute(_ command: String, input: String, finding: LogFollower.Finding) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        var environment = ProcessInfo.processInfo.environment
        environment["GRADALERT_RUN"] = finding.run
        environment["GRADALERT_KIND"] = finding.alert.alert.kind.rawValue
        environment["GRADALERT_SEVERITY"] = finding.alert.alert.severity.rawValue
        environment["GRADALERT_TAG"] = finding.alert.alert.series
        environment["GRADALERT_STEP"] = String(finding.alert.alert.step)
        process.environment = environment
        let pipe = Pipe()
        process.standardInput = pipe
        do {
            try process.run()
            try? pipe.fileHandleForWriting.write(contentsOf: Data((input + "\n").utf8))
            try? pipe.fileHandleForWriting.close()
            process.waitUntilExit()
            if process.terminationStatus != 0 {
                printError("gradalert watch: --exec command exited with status \(process.terminationStatus)")
            }
        } catch {
            printError("gradalert watch: cannot run --exec command: \(error)")
        }
    }
}
