import Foundation
import TensorBoardEvents

/// Log-normal noise around `level` (σ = 0.15 decades), deterministic.
public struct Jitter {
    var random: TestRandom
    public init(state: UInt64) { random = TestRandom(seed: state) }
    public mutating func next(_ level: Double) -> Double { level * pow(10, 0.15 * (random.uniform() - 0.5) * 2) }
}

/// Writes a run the way a training script logs one: `grad_norm/<layer>` per layer (noise around
/// 0.5 unless `norm` gives a value), `grad_norm/global` (when `global`), `loss` and `lr`, one wall
/// second per step from 1.7e9.
public func writeRun(
    _ directory: String, steps: Range<Int>, seed: UInt64 = 1, layers: [String] = ["fc1", "fc2"],
    global: Bool = true, norm: (Int, String) -> Double? = { _, _ in nil }, loss: (Int) -> Double? = { _ in nil }
) throws {
    let writer = try SummaryWriter(logdir: directory)
    var jitter = Jitter(state: seed)
    for step in steps {
        var squares = 0.0
        for layer in layers {
            let value = norm(step, layer) ?? jitter.next(0.5)
            squares += value * value
            try writer.scalar("grad_norm/\(layer)", value, step: step, wallTime: 1_700_000_000 + Double(step))
        }
        if global { try writer.scalar("grad_norm/global", squares.squareRoot(), step: step, wallTime: 1_700_000_000 + Double(step)) }
        try writer.scalar("loss", loss(step) ?? 2.0 * exp(-Double(step) / 300) + 0.1, step: step, wallTime: 1_700_000_000 + Double(step))
        try writer.scalar("lr", 0.1, step: step)
    }
    try writer.close()
}
