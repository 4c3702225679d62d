import Benchmark
import BenchSupport
import CGradAlertCRC32C
import Foundation
import TensorBoardEvents

// Each benchmark's iteration is a fixed amount of work, so throughput (iterations/s) converts to
// the unit in its name: Tools/benchmarks/ratios.py does that and puts the peers beside it.
//
// BENCH_LOGDIR names the logdir written by `bench-logdir` (Tools/benchmarks/run.sh sets it);
// BENCH_GARBAGE and BENCH_ZEROS_GZ the damaged files run.sh writes beside it.

let scalarsPerIteration = 100_000
let crcBytes = 1 << 20
let largeCRCBytes = 64 << 20

let benchmarks: @Sendable () -> Void = {
    announceCPU()  // the CPU beside this process's figures (standard error)
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident],
        warmupIterations: 2,
        maxDuration: .seconds(10),
        maxIterations: 1000
    )

    let small = (0..<crcBytes).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
    let large = (0..<largeCRCBytes).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }

    Benchmark("CRC32C dispatched 1 MiB") { benchmark in
        small.withUnsafeBytes { bytes in
            for _ in benchmark.scaledIterations { blackHole(gradalert_crc32c(0, bytes.baseAddress, bytes.count)) }
        }
    }
    Benchmark("CRC32C crc32 chains only 1 MiB") { benchmark in
        small.withUnsafeBytes { bytes in
            for _ in benchmark.scaledIterations { blackHole(gradalert_crc32c_hardware(0, bytes.baseAddress, bytes.count)) }
        }
    }
    Benchmark("CRC32C portable 1 MiB") { benchmark in
        small.withUnsafeBytes { bytes in
            for _ in benchmark.scaledIterations { blackHole(gradalert_crc32c_portable(0, bytes.baseAddress, bytes.count)) }
        }
    }
    Benchmark("CRC32C dispatched 64 MiB", configuration: .init(maxIterations: 100)) { benchmark in
        large.withUnsafeBytes { bytes in
            for _ in benchmark.scaledIterations { blackHole(gradalert_crc32c(0, bytes.baseAddress, bytes.count)) }
        }
    }

    Benchmark("Write 100k scalars", configuration: .init(maxIterations: 100)) { benchmark in
        let directory = NSTemporaryDirectory() + "gradalert-bench-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for _ in benchmark.scaledIterations {
            let writer = try SummaryWriter(logdir: directory)
            benchmark.startMeasurement()
            for step in 0..<scalarsPerIteration {
                try writer.scalar("loss", Double(step) * 0.001, step: step)
            }
            try writer.close()
            benchmark.stopMeasurement()
            try? FileManager.default.removeItem(atPath: writer.path)
        }
    }

    // The same logdir with every file compressed by gzip(1) (run.sh makes it): the cost of
    // decompressing on top of reading.
    if let logdir = ProcessInfo.processInfo.environment["BENCH_LOGDIR_GZ"] {
        let files = ((try? LogDirectory.runs(in: logdir)) ?? []).flatMap(\.files)
        Benchmark("Read gzip logdir (decode every record)", configuration: .init(maxDuration: .seconds(20), maxIterations: 10)) { benchmark in
            for _ in benchmark.scaledIterations { blackHole(decodeEveryRecord(files)) }
        }
    }

    // Damaged files (issue 15): after a length that does not match its CRC, the reader looks for
    // the next record at every offset. run.sh writes 200 MB of random bytes named like an event
    // file, and 1 GB of zeros compressed by gzip(1); neither holds a record, so each read is one
    // search from the first byte to the end (one diagnostic, no event), and peak memory shows
    // that the window is all the reader holds. The gzip one is bound by zlib's inflate.
    if let garbage = ProcessInfo.processInfo.environment["BENCH_GARBAGE"] {
        Benchmark("Read 200 MB of garbage", configuration: .init(maxDuration: .seconds(20), maxIterations: 20)) { benchmark in
            for _ in benchmark.scaledIterations { blackHole(decodeEveryRecord([garbage])) }
        }
    }
    if let zeros = ProcessInfo.processInfo.environment["BENCH_ZEROS_GZ"] {
        Benchmark("Read 1 GB of zeros gzipped", configuration: .init(warmupIterations: 1, maxDuration: .seconds(40), maxIterations: 5)) { benchmark in
            for _ in benchmark.scaledIterations { blackHole(decodeEveryRecord([zeros])) }
        }
    }

    if let logdir = ProcessInfo.processInfo.environment["BENCH_LOGDIR"] {
        let files = ((try? LogDirectory.runs(in: logdir)) ?? []).flatMap(\.files)
        Benchmark("Read logdir (decode every record)", configuration: .init(maxDuration: .seconds(20), maxIterations: 20)) { benchmark in
            for _ in benchmark.scaledIterations { blackHole(decodeEveryRecord(files)) }
        }
        // What scan and watch do: every record framed and both CRCs checked, every value's tag and
        // plugin found, scalars read, histogram moments read; bucket arrays not decoded.
        Benchmark("Read logdir in place (tags, scalars, histogram moments)", configuration: .init(maxDuration: .seconds(20), maxIterations: 20)) { benchmark in
            for _ in benchmark.scaledIterations {
                var events = 0
                var checksum = 0.0
                for file in files {
                    let reader = EventFileReader(path: file)
                    while let _: Void = reader.withNextEvent({ entry in
                        guard case .event(let view, _) = entry else { return }
                        events += 1
                        var values = view.values
                        while let value = try? values.next() {
                            checksum += Double(value.tagBytes.count + value.pluginNameBytes.count)
                            if let number = try? value.scalar() {
                                checksum += number
                            } else if let moments = try? value.histogramMoments() {
                                checksum += moments.sumSquares
                            }
                        }
                    }) {}
                }
                blackHole(events)
                blackHole(checksum)
            }
        }
    }
}
