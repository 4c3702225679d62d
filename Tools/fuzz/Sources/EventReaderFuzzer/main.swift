import GradAlertAnalysis
import GradientDetection
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
    var analysis = StreamAnalysis(run: "fuzz", classifier: classifier, configuration: DetectorConfiguration())
    var entries = 0
    var lastOffset = -1
    // Every entry moves forward: a reader that stalls would loop forever. A gzip input can inflate
    // to about 1,032 times its size (deflate's limit), so it may hold that many more entries.
    let isGzip = count >= 2 && start[0] == 0x1f && start[1] == 0x8b
    let entryLimit = (isGzip ? count * 1_032 : count) + 2
    var fingerprints: [Int] = []
    while let entry = reader.next() {
        entries += 1
        precondition(entries <= entryLimit, "the reader returned more entries than the input can hold")
        if case .event(let event, let offset) = entry {
            precondition(offset > lastOffset, "events must come in file order")
            lastOffset = offset
            analysis.feed(event)
            fingerprints.append(fingerprint(event, offset))
        }
    }
    analysis.completeStep()
    // Events let go one by one (their arrays and tags reused) read exactly as each event decoded on
    // its own from the in-place path, with fresh storage. Records that fail to decode are skipped
    // by both.
    let fresh = EventFileReader(bytes: bytes, name: "fuzz")
    var reference: [Int] = []
    while let _: Void = fresh.withNextEvent({ entry in
        if case .event(let view, let offset) = entry, let event = try? view.decode() {
            reference.append(fingerprint(event, offset))
        }
    }) {}
    precondition(reference == fingerprints, "an event read with reused storage differs from the same event decoded afresh")
    // And the in-place path scan and watch use, on the same bytes.
    var inPlace = StreamAnalysis(run: "fuzz", classifier: classifier, configuration: DetectorConfiguration())
    var diagnostics: [RecordDiagnostic] = []
    inPlace.consume(EventFileReader(bytes: bytes, name: "fuzz"), diagnostics: &diagnostics)
    inPlace.completeStep()
    _ = bytes.withUnsafeBytes { try? Event.decode($0) }
    return 0
}

/// A hash of everything an event holds that reused storage could get wrong: tags, plugin names,
/// kinds, scalars and every histogram field, bit for bit.
func fingerprint(_ event: Event, _ offset: Int) -> Int {
    var hasher = Hasher()
    hasher.combine(offset)
    hasher.combine(event.step)
    hasher.combine(event.wallTime.bitPattern)
    for value in event.summaryValues {
        hasher.combine(value.tag)
        hasher.combine(value.pluginName)
        hasher.combine(value.kind)
        switch value.value {
        case .scalar(let number): hasher.combine(number.bitPattern)
        case .histogram(let histogram):
            for moment in [histogram.min, histogram.max, histogram.count, histogram.sum, histogram.sumSquares] {
                hasher.combine(moment.bitPattern)
            }
            hasher.combine(histogram.bucketLimits.count)
            for limit in histogram.bucketLimits { hasher.combine(limit.bitPattern) }
            hasher.combine(histogram.bucketCounts.count)
            for count in histogram.bucketCounts { hasher.combine(count.bitPattern) }
        default: break
        }
    }
    return hasher.finalize()
}
