import ExplosionDetector
import GradAlertCLI
import TensorBoardEvents

/// One fuzz input = the bytes of an event file. Everything that reads untrusted event files runs on
/// it: the framed reader (CRCs, resynchronisation, truncation), the Event decoder on the raw bytes,
/// and the scan analysis (classification, segments, the detector) on whatever decodes.
/// Compiled once: a regular expression per input would dominate the run.
let classifier = try! TagClassifier()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    let reader = EventFileReader(bytes: bytes, name: "fuzz")
    var analysis = RunAnalysis(name: "fuzz", classifier: classifier, configuration: DetectorConfiguration())
    var entries = 0
    var lastOffset = -1
    // Every entry moves forward: a reader that stalls would loop forever. A gzip input can inflate
    // to about 1,032 times its size (deflate's limit), so it may hold that many more entries.
    let isGzip = count >= 2 && start[0] == 0x1f && start[1] == 0x8b
    let entryLimit = (isGzip ? count * 1_032 : count) + 2
    while let entry = reader.next() {
        entries += 1
        precondition(entries <= entryLimit, "the reader returned more entries than the input can hold")
        if case .event(let event, let offset) = entry {
            precondition(offset > lastOffset, "events must come in file order")
            lastOffset = offset
            _ = analysis.feed(event)
        }
    }
    _ = analysis.finish()
    // And the in-place path scan and watch use, on the same bytes.
    var inPlace = RunAnalysis(name: "fuzz", classifier: classifier, configuration: DetectorConfiguration())
    inPlace.consume(EventFileReader(bytes: bytes, name: "fuzz"))
    _ = inPlace.finish()
    _ = bytes.withUnsafeBytes { try? Event.decode($0) }
    return 0
}
