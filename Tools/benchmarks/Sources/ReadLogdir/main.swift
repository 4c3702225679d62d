import BenchSupport
import Foundation
import TensorBoardEvents

// read-logdir LOGDIR [PASSES]
//
// Times PASSES (default 5) decoding reads of every event file under LOGDIR, after one untimed
// warm-up pass, and prints one JSON object: {"events": N, "event_bytes": B, "seconds": [...]}.
// Tools/benchmarks/interleaved.py runs it between launches of TensorBoard's data server, so that
// both see the same state of a noisy machine.

let arguments = CommandLine.arguments
guard arguments.count >= 2, let passes = arguments.count > 2 ? Int(arguments[2]) : 5, passes > 0 else {
    FileHandle.standardError.write(Data("usage: read-logdir LOGDIR [PASSES]\n".utf8))
    exit(2)
}
let files = ((try? LogDirectory.runs(in: arguments[1])) ?? []).flatMap(\.files)
guard !files.isEmpty else {
    FileHandle.standardError.write(Data("read-logdir: no event files under \(arguments[1])\n".utf8))
    exit(1)
}
let bytes = files.reduce(0) { total, file in
    total + ((try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0)
}
let events = decodeEveryRecord(files)
var seconds: [Double] = []
for _ in 0..<passes {
    let start = ContinuousClock.now
    let counted = decodeEveryRecord(files)
    let elapsed = ContinuousClock.now - start
    precondition(counted == events, "a pass read \(counted) events, the warm-up \(events)")
    seconds.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}
print("{\"events\": \(events), \"event_bytes\": \(bytes), \"seconds\": [\(seconds.map { String($0) }.joined(separator: ", "))]}")
