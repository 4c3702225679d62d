import ArgumentParser
import Foundation
import GradAlertAnalysis
import TensorBoardEvents

/// `gradalert inspect`: every record of event files, and every problem in them.
package struct Inspect: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Print every record of TensorBoard event files, and every damaged spot.",
        discussion: """
            PATH is an event file or a directory; directories are searched recursively for runs \
            (folders holding files whose name contains "tfevents"), and each run's files are read \
            in name order. Files compressed with gzip are decompressed as they are read; their \
            offsets are offsets in the decompressed data.

            Each record is printed with its byte offset, step, wall time, tag, kind and value (for \
            histograms: count, min, max, mean, L2 norm and bucket count). Damage (a truncated tail, \
            a bad CRC, a record that is not an Event) is printed where it occurs, with file and \
            offset; reading goes on after it.

            --format json prints one JSON object per line: a record \
            ({"file", "offset", "step", "wall_time", "kind", ...}) or a diagnostic \
            ({"diagnostic": {"file", "offset", "problem", "message"}}).

            Exit status: 0 all records intact; 1 some damage was found; 2 usage error or no \
            readable event file.
            """
    )

    package enum Format: String, ExpressibleByArgument, CaseIterable, Sendable {
        case text, json
    }

    @Argument(help: "Event files or log directories.")
    package var paths: [String]

    @Option(help: "Output format: text or json (one object per line).")
    package var format: Format = .text

    package init() {}

    package func run() async throws {
        var output = StandardOutput()
        let status = try Self.inspect(paths: paths, format: format, output: &output)
        output.flush()
        if status != ExitStatus.success { throw ExitCode(status) }
    }

    /// Runs the command, writing to `output`; returns the exit status.
    package static func inspect(paths: [String], format: Format, output: inout some TextOutputStream) throws -> Int32 {
        guard let runs = runsOrUsageError(under: paths, command: "inspect") else { return ExitStatus.usage }
        let files = runs.flatMap(\.files)
        var damaged = false
        var readable = 0
        for file in files {
            let reader = EventFileReader(path: file)
            var records = 0
            var problems = 0
            if format == .text { output.write("== \(file)\n") }
            while let entry = reader.next() {
                switch entry {
                case .event(let event, let offset):
                    records += 1
                    if format == .text {
                        output.write(TextFormat.record(event, offset: offset))
                    } else {
                        output.write(JSONFormat.record(event, file: file, offset: offset) + "\n")
                    }
                case .diagnostic(let diagnostic):
                    problems += 1
                    damaged = true
                    if format == .text {
                        output.write("!! offset \(diagnostic.offset): \(diagnostic.problem.rawValue): \(diagnostic.message)\n")
                    } else {
                        output.write(JSONFormat.diagnostic(diagnostic) + "\n")
                    }
                    if diagnostic.problem == .unreadable { records = -1 }
                }
            }
            if records >= 0 { readable += 1 }
            if format == .text {
                let size = LogDirectory.fileSize(file)
                let note = size == 0 ? " (empty file)" : reader.isGzipCompressed ? " (gzip; the offsets are in the decompressed data)" : ""
                output.write("-- \(max(records, 0)) records, \(problems) problems, \(size) bytes\(note)\n")
            }
        }
        if readable == 0 { return ExitStatus.usage }
        return damaged ? ExitStatus.found : ExitStatus.success
    }
}
