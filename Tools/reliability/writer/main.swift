// A writer process for the reliability tests: writes scalars and histograms whose values are a
// function of the step, and says on stdout, after each flush returns, the last step that is now on
// disk ("flushed <step>"). Tests kill it (SIGKILL) at random moments, or run several at once into
// one run folder, and check what was promised against what the file holds.
//
// usage: gradalert-reliability-writer LOGDIR STEPS FLUSH_EVERY [TAG_PREFIX]

import Foundation
import TensorBoardEvents

let arguments = CommandLine.arguments
guard arguments.count >= 4, let steps = Int(arguments[2]), let flushEvery = Int(arguments[3]), flushEvery > 0 else {
    FileHandle.standardError.write(Data("usage: gradalert-reliability-writer LOGDIR STEPS FLUSH_EVERY [TAG_PREFIX]\n".utf8))
    exit(2)
}
let prefix = arguments.count > 4 ? arguments[4] : ""
var options = SummaryWriter.Options()
options.flushInterval = nil
options.flushBytes = 1 << 30  // flush only when told to: the test knows exactly what was flushed
let writer = try SummaryWriter(logdir: arguments[1], options: options)
/// One line straight to file descriptor 1, unbuffered: the parent must see it before any kill.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

say("file \(writer.path)")

/// The value every reader must find at `step`.
func expectedScalar(_ step: Int) -> Double { Double(Float(sin(Double(step) * 0.01) * 100)) }
func histogramValues(_ step: Int) -> [Float] { (0..<64).map { Float(($0 * 7 + step) % 29) - 14 } }

for step in 0..<steps {
    try writer.scalar("\(prefix)value", expectedScalar(step), step: step)
    if step % 10 == 0 {
        try writer.histogram("\(prefix)histogram", values: histogramValues(step), step: step)
    }
    if (step + 1) % flushEvery == 0 {
        try writer.flush()
        say("flushed \(step)")
    }
}
try writer.close()
say("closed \(steps - 1)")
