import Foundation
@_exported import GradAlertTestSupport
import Testing

@testable import TensorBoardEvents

/// The repository's Tests/Fixtures directory.
let fixturesDirectory: String = {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path
}()

func readEntries(_ path: String) -> (events: [Event], diagnostics: [RecordDiagnostic]) {
    var events: [Event] = []
    var diagnostics: [RecordDiagnostic] = []
    for entry in EventFileReader(path: path).readAll() {
        switch entry {
        case .event(let event, _): events.append(event)
        case .diagnostic(let diagnostic): diagnostics.append(diagnostic)
        }
    }
    return (events, diagnostics)
}

func eventFiles(in directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory)
        .filter { $0.contains("tfevents") }.sorted().map { directory + "/" + $0 }
}

/// (tag, step, value) of every scalar in `events`.
func scalars(_ events: [Event]) -> [(tag: String, step: Int64, value: Double)] {
    events.flatMap { event in
        event.summaryValues.compactMap { value in
            if case .scalar(let number) = value.value { return (value.tag, event.step, number) }
            return nil
        }
    }
}
