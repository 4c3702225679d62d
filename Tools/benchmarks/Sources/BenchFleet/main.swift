// Writes a fleet-shaped log directory for the watch benchmarks (Tools/benchmarks/fleet_bench.py):
// RUNS run folders, each with RANKS event files written at the same time (data-parallel ranks),
// STEPS steps per file; per step a loss, grad_norm/global and grad_norm/<layer> for 10 layers,
// one scalar per record (as tensorboardX and PyTorch write them). Deterministic values.
//
// usage: bench-fleet DIR [runs=1000] [ranks=4] [steps=200]

import Foundation
import TensorBoardEvents

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    print("usage: bench-fleet DIR [runs=1000] [ranks=4] [steps=200]")
    exit(2)
}
let directory = arguments[1]
let runs = arguments.count > 2 ? Int(arguments[2]) ?? 1000 : 1000
let ranks = arguments.count > 3 ? Int(arguments[3]) ?? 4 : 4
let steps = arguments.count > 4 ? Int(arguments[4]) ?? 200 : 200
let layers = (0..<10).map { "layer\($0).weight" }

var bytes = 0
for run in 0..<runs {
    var options = SummaryWriter.Options()
    options.flushInterval = nil
    // The ranks open their files first, then write in turns: concurrent writers, as DDP does.
    let writers = try (0..<ranks).map { _ in try SummaryWriter(logdir: "\(directory)/run-\(String(format: "%04d", run))", options: options) }
    for step in 0..<steps {
        for (rank, writer) in writers.enumerated() {
            let level = 0.5 + 0.1 * Double((run + rank + step) % 7)
            var squares = 0.0
            for (index, layer) in layers.enumerated() {
                let norm = level * Double(index + 1) / 10
                squares += norm * norm
                try writer.scalar("grad_norm/\(layer)", norm, step: step)
            }
            try writer.scalar("grad_norm/global", squares.squareRoot(), step: step)
            try writer.scalar("loss", 2.0 / Double(step + 1) + 0.1, step: step)
        }
    }
    for writer in writers {
        try writer.close()
        bytes += writer.bytesWritten
    }
}
// What the benchmark needs to append whole steps that continue every file (fleet_bench.py).
let state = "{\"runs\": \(runs), \"ranks\": \(ranks), \"steps\": \(steps), \"layers\": \(layers.count)}\n"
try state.write(toFile: "\(directory)/fleet.json", atomically: true, encoding: .utf8)
print("wrote \(runs) runs x \(ranks) ranks x \(steps) steps: \(bytes / 1_000_000) MB in \(directory)")
