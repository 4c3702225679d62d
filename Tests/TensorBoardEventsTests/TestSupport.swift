import Foundation
import Testing

@testable import TensorBoardEvents

/// A fresh directory per test (tests run in parallel), removed afterwards.
struct TemporaryDirectory: ~Copyable {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.path
        path = base + "/gradalert-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Deterministic random numbers for tests (SplitMix64).
struct TestRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

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
