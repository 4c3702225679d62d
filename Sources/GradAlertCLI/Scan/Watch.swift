import ArgumentParser
import Dispatch
import ExplosionDetector
import Foundation
import TensorBoardEvents

/// Follows a log directory while training writes it: new runs, new files, growing files.
public final class Watcher {
    public let logdir: String
    private let classifier: TagClassifier
    private let configuration: DetectorConfiguration
    private var runs: [String: RunState] = [:]

    /// A run's files, split into streams as `scan` splits them: a file that starts after the
    /// files of a stream have ended continues that stream (a restart, if its steps go back); a
    /// file that starts while they are still being written is a concurrent writer (a
    /// data-parallel rank) and gets a stream of its own, with its own detector.
    ///
    /// Unlike `scan`, `watch` sees files before they end, and writers buffer (PyTorch flushes
    /// every 120 s): a stream from which nothing but the file's first record has been read may be
    /// a writer that has not flushed yet, so a new file never joins it. When in doubt a file gets a
    /// stream of its own, which for live alerts costs no more than a restart would: a fresh
    /// detector.
    private final class RunState {
        var streams: [Stream] = []
        /// Per file: its reader and stream, once its first record has been read, and that record's
        /// wall time.
        var files: [String: (reader: EventFileReader, stream: Int, start: Double?)] = [:]

        struct Stream {
            var analysis: RunAnalysis
            var lastWallTime = -Double.infinity
            var diagnosticsSeen = 0
        }
    }

    /// What one poll found.
    public struct Finding: Sendable {
        public var run: String
        public var alert: RunAnalysis.ScanAlert
    }

    public init(logdir: String, classifier: TagClassifier, configuration: DetectorConfiguration) {
        self.logdir = logdir
        self.classifier = classifier
        self.configuration = configuration
    }

    /// Reads whatever is new and returns the alerts raised, and the new diagnostics (a truncated
    /// tail is normal while a writer is writing, so it is not reported).
    public func poll() -> (alerts: [Finding], diagnostics: [RecordDiagnostic]) {
        var findings: [Finding] = []
        var diagnostics: [RecordDiagnostic] = []
        let found = (try? LogScanner.discover([logdir])) ?? []
        for run in found {
            let state: RunState
            if let existing = runs[run.name] {
                state = existing
            } else {
                state = RunState()
                runs[run.name] = state
            }
            let consumedBefore = state.streams.map(\.analysis.eventsConsumed)
            for file in run.files {
                let stream: Int
                let reader: EventFileReader
                if let known = state.files[file] {
                    (reader, stream, _) = known
                } else {
                    let start: Double?
                    switch LogScanner.firstRecord(of: file) {
                    case .incomplete: continue  // being created: placed once its first record is whole
                    case .wallTime(let time): start = time
                    case .damaged: start = nil
                    }
                    if let replaced = Self.compressedCopy(file, start: start, of: state) {
                        // `gzip NAME` replaced a file being followed: the same records, so carry on
                        // from where its reader stopped, in its stream, rather than read them again.
                        let old = state.files.removeValue(forKey: replaced)!
                        reader = EventFileReader(path: file)
                        reader.skip(to: old.reader.offset)
                        stream = old.stream
                    } else {
                        stream = state.streams.firstIndex { candidate in
                            guard let start else { return true }  // a damaged first record: the first stream, as scan does
                            return candidate.analysis.summaryEventsConsumed > 0 && candidate.lastWallTime <= start
                        } ?? state.streams.count
                        if stream == state.streams.count {
                            state.streams.append(RunState.Stream(analysis: RunAnalysis(name: run.name, classifier: classifier, configuration: configuration)))
                        }
                        reader = EventFileReader(path: file)
                    }
                    state.files[file] = (reader, stream, start)
                }
                findings += state.streams[stream].analysis.consume(reader).map { Finding(run: run.name, alert: $0.onStream(stream)) }
                if let last = state.streams[stream].analysis.lastWallTime {
                    state.streams[stream].lastWallTime = max(state.streams[stream].lastWallTime, last)
                }
            }
            for index in state.streams.indices {
                // The last step may still be receiving values (a writer writes one tag at a time):
                // it is judged once a later step arrives, or once a whole poll brings nothing new.
                let before = index < consumedBefore.count ? consumedBefore[index] : 0
                if state.streams[index].analysis.eventsConsumed == before {
                    findings += state.streams[index].analysis.flush().map { Finding(run: run.name, alert: $0.onStream(index)) }
                }
                let all = state.streams[index].analysis.diagnostics
                diagnostics += all[state.streams[index].diagnosticsSeen...].filter { $0.problem != .truncated }
                state.streams[index].diagnosticsSeen = all.count
            }
        }
        return (findings, diagnostics)
    }

    /// The file `file` replaced, when it is `NAME.gz` for a `NAME` being followed that is gone and
    /// whose first record had the same wall time: what `gzip NAME` leaves behind.
    private static func compressedCopy(_ file: String, start: Double?, of state: RunState) -> String? {
        guard file.hasSuffix(".gz"), let start else { return nil }
        let original = String(file.dropLast(3))
        guard let known = state.files[original], known.start == start,
            !FileManager.default.fileExists(atPath: original)
        else { return nil }
        return original
    }

    /// How many concurrent writers each run has shown so far (1 for most runs).
    public var streamCounts: [String: Int] { runs.mapValues { $0.streams.count } }

    /// Runs known so far.
    public var runNames: [String] { runs.keys.sorted() }
}

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
        let watcher = Watcher(logdir: logdir, classifier: try detector.classifier(), configuration: detector.configuration())
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

    private func emit(_ finding: Watcher.Finding, colour: Bool) {
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
    static func execute(_ command: String, input: String, finding: Watcher.Finding) {
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

/// Turns SIGINT and SIGTERM into a flag the watch loop checks.
final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    private var sources: [any DispatchSourceSignal] = []

    init() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [weak self] in self?.request() }
            source.resume()
            sources.append(source)
        }
    }

    func request() {
        lock.lock()
        flag = true
        lock.unlock()
    }

    var requested: Bool {
        lock.lock()
        defer { lock.unlock() }
        return flag
    }
}
