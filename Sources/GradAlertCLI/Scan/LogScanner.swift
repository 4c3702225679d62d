import ExplosionDetector
import Foundation
import TensorBoardEvents

/// Scans log directories: finds runs, reads each run's files in name order (runs in parallel, on
/// every core), and reports per run.
public struct LogScanner: Sendable {
    public var classifier: TagClassifier
    public var configuration: DetectorConfiguration
    /// Parallel runs; defaults to the number of active cores.
    public var concurrency: Int = ProcessInfo.processInfo.activeProcessorCount

    public init(classifier: TagClassifier, configuration: DetectorConfiguration) {
        self.classifier = classifier
        self.configuration = configuration
    }

    public struct Result: Sendable {
        public var reports: [RunReport]
        public var seconds: Double
        public var files: Int { reports.reduce(0) { $0 + $1.files } }
        public var bytes: Int { reports.reduce(0) { $0 + $1.bytes } }
        public var readableFiles: Int { reports.reduce(0) { $0 + $1.readableFiles } }
    }

    /// Runs under each path, named relative to the path given; a path that is itself a run is named
    /// after its folder, and an event file given on its own is a run named after the file.
    public static func discover(_ paths: [String]) throws(LogDirectory.Error) -> [(name: String, files: [String])] {
        var runs: [(String, [String])] = []
        for path in paths {
            let found = try LogDirectory.runs(in: path)
            for run in found {
                var name = run.name
                if name == "." {
                    // The path is itself a run: name it after its folder.
                    var isDirectory: ObjCBool = false
                    _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
                    let folder = isDirectory.boolValue ? path : (path as NSString).deletingLastPathComponent
                    name = (((folder as NSString).standardizingPath) as NSString).lastPathComponent
                    runs.append((name, run.files))
                    continue
                }
                if paths.count > 1 {
                    let base = (path as NSString).lastPathComponent
                    name = name == "." ? base : base + "/" + name
                }
                runs.append((name, run.files))
            }
        }
        return runs
    }

    /// Scans the runs, calling `progress` (from any thread) after each run with (done, total, bytes).
    public func scan(
        runs: [(name: String, files: [String])],
        progress: (@Sendable (Int, Int, Int) -> Void)? = nil
    ) async -> Result {
        let start = ContinuousClock.now
        let classifier = self.classifier
        let configuration = self.configuration
        var reports = [RunReport?](repeating: nil, count: runs.count)
        await withTaskGroup(of: (Int, RunReport).self) { group in
            var next = 0
            var done = 0
            var bytes = 0
            func launch() {
                guard next < runs.count else { return }
                let index = next
                let run = runs[index]
                next += 1
                group.addTask {
                    (index, Self.scanRun(name: run.name, files: run.files, classifier: classifier, configuration: configuration))
                }
            }
            for _ in 0..<max(1, concurrency) { launch() }
            for await (index, report) in group {
                reports[index] = report
                done += 1
                bytes += report.bytes
                progress?(done, runs.count, bytes)
                launch()
            }
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return Result(reports: reports.compactMap { $0 }, seconds: seconds)
    }

    /// Reads a run's files in name order. A file that starts after the files before it ended
    /// continues them (a restart, if its steps go back, starts a new segment); a file that starts
    /// while an earlier one was still being written is a concurrent writer — a data-parallel rank —
    /// and is analysed as a stream of its own, so ranks logging the same tags are not mistaken for
    /// restarts.
    static func scanRun(name: String, files: [String], classifier: TagClassifier, configuration: DetectorConfiguration) -> RunReport {
        var streams: [(analysis: RunAnalysis, lastWallTime: Double)] = []
        for file in files {
            let size = LogDirectory.fileSize(file)
            let start = firstWallTime(of: file)
            var index = streams.firstIndex { start == nil || $0.lastWallTime <= start! }
            if index == nil {
                streams.append((RunAnalysis(name: name, classifier: classifier, configuration: configuration), -.infinity))
                index = streams.count - 1
            }
            let reader = EventFileReader(path: file)
            let before = streams[index!].analysis.diagnostics.count
            streams[index!].analysis.consume(reader)
            let unreadable = streams[index!].analysis.diagnostics[before...].contains { $0.problem == .unreadable }
            streams[index!].analysis.noteFile(bytes: size, readable: !unreadable)
            streams[index!].lastWallTime = max(streams[index!].lastWallTime, streams[index!].analysis.lastWallTime ?? start ?? -.infinity)
        }
        let reports = streams.indices.map { streams[$0].analysis.finish() }
        guard var merged = reports.first else {
            var empty = RunAnalysis(name: name, classifier: classifier, configuration: configuration)
            return empty.finish()
        }
        merged.streams = reports.count
        for (index, report) in reports.enumerated().dropFirst() {
            merged.alerts += report.alerts.map { $0.onStream(index) }
            merged.gradientSeries += report.gradientSeries.filter { !merged.gradientSeries.contains($0) }
            merged.lossSeries += report.lossSeries.filter { !merged.lossSeries.contains($0) }
            merged.diagnostics += report.diagnostics
            merged.files += report.files
            merged.readableFiles += report.readableFiles
            merged.bytes += report.bytes
            merged.segments = max(merged.segments, report.segments)
        }
        merged.alerts.sort { ($0.alert.step, $0.stream) < ($1.alert.step, $1.stream) }
        return merged
    }

    /// The wall time of a file's first record (its file_version record: when the writer opened it).
    static func firstWallTime(of file: String) -> Double? {
        if case .wallTime(let time) = firstRecord(of: file) { return time }
        return nil
    }

    /// What a file's first record says about when its writer started.
    enum FirstRecord: Equatable {
        case wallTime(Double)
        /// No whole record yet: an empty file, or one whose writer is still writing it.
        case incomplete
        /// The first record is damaged (the file is read anyway, without a start time).
        case damaged
    }

    static func firstRecord(of file: String) -> FirstRecord {
        let reader = EventFileReader(path: file, bufferSize: 4096)
        switch reader.next() {
        case .event(let event, _): return .wallTime(event.wallTime)
        case .diagnostic(let diagnostic): return diagnostic.problem == .truncated ? .incomplete : .damaged
        case nil: return .incomplete
        }
    }
}
