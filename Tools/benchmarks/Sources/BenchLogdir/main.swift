// Writes a deterministic benchmark logdir shaped like a real training log: RUNS runs; per step a
// loss, grad_norm/global and a grad_norm/<layer> per layer, and a gradient histogram per layer
// (legacy HistogramProto, TensorFlow's default layout) of 1,000 values.
//
// usage: bench-logdir DIR [megabytes=200] [runs=4]

import Foundation
import TensorBoardEvents

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    print("usage: bench-logdir DIR [megabytes=200] [runs=4]")
    exit(2)
}
let directory = arguments[1]
let megabytes = arguments.count > 2 ? Int(arguments[2]) ?? 200 : 200
let runs = arguments.count > 3 ? Int(arguments[3]) ?? 4 : 4
let layers = ["embed", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias", "attn.q", "attn.k", "attn.v"]

var state: UInt64 = 12345
@MainActor func uniform() -> Double {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return Double((z ^ (z >> 31)) >> 11) * 0x1p-53
}
@MainActor func normal() -> Double {
    (-2 * log(max(uniform(), 1e-300))).squareRoot() * cos(2 * .pi * uniform())
}

let perRun = megabytes * 1_000_000 / runs
var values = [Float](repeating: 0, count: 1000)
for run in 0..<runs {
    var options = SummaryWriter.Options()
    options.flushBytes = 4 << 20
    let writer = try SummaryWriter(logdir: "\(directory)/run-\(run)", options: options)
    var step = 0
    var time = 1_700_000_000.0 + Double(run) * 100_000
    while writer.bytesWritten + writer.pendingBytes < perRun {
        time += 0.25
        try writer.scalar("loss", 2.3 * exp(-Double(step) / 2000) + 0.05 * abs(normal()), step: step, wallTime: time)
        var squares = 0.0
        for (index, layer) in layers.enumerated() {
            let scale = 0.01 * Double(index + 1) * (1 + 0.1 * normal())
            for i in values.indices { values[i] = Float(normal() * scale) }
            let summary = try writer.histogram("grad/\(layer)", values: values, step: step, wallTime: time)
            try writer.scalar("grad_norm/\(layer)", summary.l2Norm, step: step, wallTime: time)
            squares += summary.sumSquares
        }
        try writer.scalar("grad_norm/global", squares.squareRoot(), step: step, wallTime: time)
        step += 1
    }
    try writer.close()
    print("run-\(run): \(step) steps, \(writer.bytesWritten) bytes")
}
