import TensorBoardEvents

/// Reads every record of `files` with `next()`, which decodes each into owned values (histogram
/// bucket arrays included) and checks both CRCs; returns how many events there were. The decoding
/// reader's benchmark and `read-logdir` (the interleaved comparison with the data server) both
/// time this.
public func decodeEveryRecord(_ files: [String]) -> Int {
    var events = 0
    for file in files {
        let reader = EventFileReader(path: file)
        while let entry = reader.next() {
            if case .event = entry { events += 1 }
        }
    }
    return events
}
