import Benchmark
import BenchSupport
import Foundation
import GradientHooks

// Gradient statistics on Float32 buffers of 1e5 ... 1e8 elements, one core unless the name says
// otherwise; one iteration = one pass over the buffer, so elements/s = size / wall-clock time.
// The plain Swift sum loop over the same buffer is the memory-bandwidth line the norms-only pass
// is held to. Tools/benchmarks/ratios.py turns the times into the table in docs/benchmarks.md.
// The process names its CPU on standard error first: these figures differ several-fold between
// AMD EPYC generations (issue 19).

let sizes = [100_000, 1_000_000, 10_000_000, 100_000_000]

/// Gradient-like values: a normal sample (σ = 0.01) from a fixed seed.
func gradients(_ count: Int) -> [Float] {
    var state: UInt64 = 0x1234_5678
    var values = [Float](repeating: 0, count: count)
    var index = 0
    while index < count {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let u1 = max(Double(z >> 11) * 0x1p-53, 1e-300)
        let u2 = Double(z & 0x7FF) / 2048
        let radius = (-2 * log(u1)).squareRoot() * 0.01
        values[index] = Float(radius * cos(2 * .pi * u2))
        if index + 1 < count { values[index + 1] = Float(radius * sin(2 * .pi * u2)) }
        index += 2
    }
    return values
}

let benchmarks: @Sendable () -> Void = {
    announceCPU()
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 1,
        maxDuration: .seconds(5),
        maxIterations: 200
    )
    for size in sizes {
        let values = gradients(size)
        let label = size >= 1_000_000 ? "\(size / 1_000_000)e6" : "\(size / 1000)e3"
        let iterations = size >= 100_000_000 ? 8 : 200
        Benchmark("stats+histogram \(label)", configuration: .init(maxIterations: iterations)) { benchmark in
            values.withUnsafeBufferPointer { buffer in
                for _ in benchmark.scaledIterations { blackHole(GradientStatisticsKernel.compute(buffer, histogram: true)) }
            }
        }
        Benchmark("norms only \(label)", configuration: .init(maxIterations: iterations)) { benchmark in
            values.withUnsafeBufferPointer { buffer in
                for _ in benchmark.scaledIterations { blackHole(GradientStatisticsKernel.compute(buffer, histogram: false)) }
            }
        }
        Benchmark("plain sum loop \(label)", configuration: .init(maxIterations: iterations)) { benchmark in
            values.withUnsafeBufferPointer { buffer in
                for _ in benchmark.scaledIterations {
                    var total: Float = 0
                    for value in buffer { total += value }
                    blackHole(total)
                }
            }
        }
        if size >= 10_000_000 {
            Benchmark("stats+histogram 2 threads \(label)", configuration: .init(maxIterations: iterations)) { benchmark in
                values.withUnsafeBufferPointer { buffer in
                    for _ in benchmark.scaledIterations { blackHole(GradientStatisticsKernel.compute(buffer, histogram: true, threads: 2)) }
                }
            }
        }
    }
}
