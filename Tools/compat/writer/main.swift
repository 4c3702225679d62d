// Writes a logdir with every record kind gradalert writes, and a manifest of exactly what was
// written, for Tools/compat/check_tensorboard.py to compare against what TensorBoard's own loaders
// (the Python event accumulator and the Rust data server) read back.
//
// usage: gradalert-compat-writer LOGDIR MANIFEST.json

import Foundation
import GradientDetection
import GradAlertCLI
import GradAlertLab
import GradientHooks
import TensorBoardEvents

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: gradalert-compat-writer LOGDIR MANIFEST.json\n".utf8))
    exit(2)
}
let logdir = arguments[1]
let manifestPath = arguments[2]

struct RunManifest {
    struct Histogram {
        var step: Int
        var wallTime: Double
        var summary: HistogramSummary
    }
    struct Image {
        var step: Int
        var wallTime: Double
        var width: Int
        var height: Int
        var png: [UInt8]
    }
    var scalars: [String: [(step: Int, wallTime: Double, value: Double)]] = [:]
    var histograms: [String: [Histogram]] = [:]
    var texts: [String: [(step: Int, wallTime: Double, text: String)]] = [:]
    var images: [String: [Image]] = [:]

    /// Written with gradalert's JSONWriter, whose numbers round-trip exactly (Foundation's
    /// JSONSerialization does not promise that) and whose NaN/±Infinity are the manifest's strings.
    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("scalars")
        json.beginObject()
        for (tag, points) in scalars.sorted(by: { $0.key < $1.key }) {
            json.key(tag)
            json.beginArray()
            for point in points {
                json.beginArray()
                json.integer(Int64(point.step))
                json.number(point.wallTime)
                json.number(point.value)
                json.endArray()
            }
            json.endArray()
        }
        json.endObject()
        json.key("histograms")
        json.beginObject()
        for (tag, entries) in histograms.sorted(by: { $0.key < $1.key }) {
            json.key(tag)
            json.beginArray()
            for entry in entries {
                let h = entry.summary
                json.beginObject()
                json.field("step", entry.step)
                json.field("wall_time", entry.wallTime)
                JSONFormat.histogramFields(h, into: &json)
                json.endObject()
            }
            json.endArray()
        }
        json.endObject()
        json.key("texts")
        json.beginObject()
        for (tag, entries) in texts.sorted(by: { $0.key < $1.key }) {
            json.key(tag)
            json.beginArray()
            for entry in entries {
                json.beginArray()
                json.integer(Int64(entry.step))
                json.number(entry.wallTime)
                json.string(entry.text)
                json.endArray()
            }
            json.endArray()
        }
        json.endObject()
        json.key("images")
        json.beginObject()
        for (tag, entries) in images.sorted(by: { $0.key < $1.key }) {
            json.key(tag)
            json.beginArray()
            for entry in entries {
                json.beginObject()
                json.field("step", entry.step)
                json.field("wall_time", entry.wallTime)
                json.field("width", entry.width)
                json.field("height", entry.height)
                json.field("png_base64", Data(entry.png).base64EncodedString())
                json.endObject()
            }
            json.endArray()
        }
        json.endObject()
        json.endObject()
    }
}

var random = LabRandom(seed: 42)  // deterministic, so every run writes the same values
let baseTime = (Date().timeIntervalSince1970 * 1000).rounded() / 1000
var manifest: [(name: String, run: RunManifest)] = []

@MainActor func writeRun(_ name: String, steps: [Int], build: @MainActor (SummaryWriter, inout RunManifest, Int, Double) throws -> Void) throws {
    let writer = try SummaryWriter(logdir: logdir + "/" + name)
    var run = RunManifest()
    for (index, step) in steps.enumerated() {
        // Fractional wall times exercise the exact double round trip.
        let wallTime = baseTime + Double(index) * 0.001 + 0.000123
        try build(writer, &run, step, wallTime)
    }
    try writer.close()
    manifest.append((name, run))
}

func recordScalar(_ writer: SummaryWriter, _ run: inout RunManifest, _ tag: String, _ value: Double, _ step: Int, _ time: Double) throws {
    try writer.scalar(tag, value, step: step, wallTime: time)
    run.scalars[tag, default: []].append((step, time, Double(Float(value))))
}

func recordHistogram(_ writer: SummaryWriter, _ run: inout RunManifest, _ tag: String, _ values: [Float], _ step: Int, _ time: Double) throws {
    let h = try writer.histogram(tag, values: values, step: step, wallTime: time)
    run.histograms[tag, default: []].append(.init(step: step, wallTime: time, summary: h))
}

func recordText(_ writer: SummaryWriter, _ run: inout RunManifest, _ tag: String, _ text: String, _ step: Int, _ time: Double) throws {
    try writer.text(tag, text, step: step, wallTime: time)
    run.texts[tag, default: []].append((step, time, text))
}

func recordImage(_ writer: SummaryWriter, _ run: inout RunManifest, _ tag: String, width: Int, height: Int, seed: Int, _ step: Int, _ time: Double) throws {
    var pixels = [UInt8](repeating: 0, count: width * height * 4)
    for y in 0..<height {
        for x in 0..<width {
            let i = (y * width + x) * 4
            pixels[i] = UInt8((x * 255) / max(width - 1, 1))
            pixels[i + 1] = UInt8((y * 255) / max(height - 1, 1))
            pixels[i + 2] = UInt8((seed * 37) % 256)
            pixels[i + 3] = 255
        }
    }
    let png = try PNG.encode(pixels: pixels, width: width, height: height, channels: 4)
    try writer.image(tag, png: png, width: width, height: height, colorspace: 4, step: step, wallTime: time)
    run.images[tag, default: []].append(.init(step: step, wallTime: time, width: width, height: height, png: png))
}

// Steps ascend within each run (TensorBoard's accumulator purges data when steps go back).
let longSteps = Array(-3...(-1)) + Array(0..<3000) + [1 << 40]

do {
    try writeRun("alpha", steps: longSteps) { writer, run, step, time in
        let loss = 2.5 * exp(-Double(max(step, 0)) / 800) + 0.05 * random.standardNormal()
        try recordScalar(writer, &run, "loss", loss, step, time)
        try recordScalar(writer, &run, "grad_norm/global", abs(1 + 0.3 * random.standardNormal()), step, time)
        if step == 1500 { try recordScalar(writer, &run, "grad_norm/fc2.weight", .nan, step, time) }
        else if step == 1501 { try recordScalar(writer, &run, "grad_norm/fc2.weight", .infinity, step, time) }
        else if step == 1502 { try recordScalar(writer, &run, "grad_norm/fc2.weight", -.infinity, step, time) }
        else { try recordScalar(writer, &run, "grad_norm/fc2.weight", 1e-3 * Double(step % 97) + 1e-7, step, time) }
        if step % 100 == 0 || step < 0 || step == 1 << 40 {
            let values = (0..<500).map { _ in Float(random.standardNormal() * 0.02) }
            try recordHistogram(writer, &run, "grad/fc1.weight", values, step, time)
        }
        if step % 500 == 0 {
            try recordText(writer, &run, "gradalert/alerts", "**step \(step)**: all quiet\n\n| layer | norm |\n|---|---|\n| fc1 | 0.5 |", step, time)
        }
        if step % 1000 == 0 {
            try recordImage(writer, &run, "gradient-flow", width: 16, height: 8, seed: step, step, time)
        }
    }

    try writeRun("beta", steps: Array(0..<200)) { writer, run, step, time in
        try recordScalar(writer, &run, "loss", 1 / Double(step + 1), step, time)
        try recordScalar(writer, &run, "lr", 1e-3, step, time)
        // Histograms that probe the layout: values exactly on TensorFlow's edges, zeros, one
        // value, negatives only, huge and tiny magnitudes, subnormals.
        let limits = TensorFlowBuckets.limits
        let special: [[Float]] = [
            (0..<50).map { Float(limits[700 + $0]) },
            [0, 0, 0, 0],
            [3.5],
            (0..<40).map { -Float($0 + 1) * 0.37 },
            [1e30, -1e30, 3e38, -3e38, 1e-30, Float.leastNonzeroMagnitude, -Float.leastNonzeroMagnitude],
            (0..<1000).map { _ in Float(random.standardNormal() * 1e4) },
        ]
        if step % 10 == 0 {
            try recordHistogram(writer, &run, "edges/kind-\(step / 10 % special.count)", special[step / 10 % special.count], step, time)
        }
    }

    try writeRun("nested/β-run", steps: Array(0..<50)) { writer, run, step, time in
        try recordScalar(writer, &run, "損失/loss ✓", 0.5 + Double(step) * 0.01, step, time)
        try recordScalar(writer, &run, "tiny", 1e-40, step, time)  // a float32 subnormal
        try recordScalar(writer, &run, "huge", 3.0e38, step, time)
        try recordScalar(writer, &run, "signed zero", -0.0, step, time)
        if step % 10 == 0 {
            try recordText(writer, &run, "notes/ünïcode", "Grüße — 你好 — 🚀 step \(step)\n* list item\n\n`code`", step, time)
        }
        if step == 7 {
            try recordImage(writer, &run, "pictures/small", width: 3, height: 5, seed: 3, step, time)
        }
    }
    try writeMonitorRun()
} catch {
    FileHandle.standardError.write(Data("gradalert-compat-writer: \(error)\n".utf8))
    exit(1)
}

/// A run written by GradientMonitor while a real network trains (and blows up), so TensorBoard's
/// loaders check everything the monitor writes: norms, max |g|, non-finite counts, loss, gradient
/// histograms, alert Markdown. The manifest is built from what the monitor reported in memory.
@MainActor func writeMonitorRun() throws {
    var options = GradientMonitor.Options()
    options.histogramEvery = 5
    let monitor = try GradientMonitor(logdir: logdir + "/monitor", options: options)
    var labRandom = LabRandom(seed: 3)
    var experiment = Lab.defaultMLP
    experiment.depth = 4
    experiment.width = 16
    let model = Lab.mlp(experiment, random: &labRandom)
    monitor.watch(model)
    let data = Spirals(pointsPerClass: 50, seed: 4)
    let optimiser = SGD(learningRate: 0.05, momentum: 0.9)
    var run = RunManifest()
    for step in 0..<80 {
        for parameter in model.parameters { parameter.zeroGradient() }
        let (inputs, labels) = data.batch(32, random: &labRandom)
        let (loss, gradient) = SoftmaxCrossEntropy.lossAndGradient(logits: model.forward(inputs), labels: labels)
        _ = model.backward(gradient)
        let report = try monitor.record(step: step, loss: Double(loss))
        let time = report.wallTime
        for (name, statistics) in report.parameters {
            run.scalars["grad_norm/\(name)", default: []].append((step, time, Double(Float(statistics.l2Norm))))
            run.scalars["grad_max/\(name)", default: []].append((step, time, Double(Float(statistics.maxAbs))))
            if statistics.nonFiniteCount > 0 {
                run.scalars["grad_nonfinite/\(name)", default: []].append((step, time, Double(Float(Double(statistics.nonFiniteCount)))))
            }
            if step % 5 == 0, let histogram = statistics.histogram() {
                run.histograms["grad/\(name)", default: []].append(.init(step: step, wallTime: time, summary: histogram))
            }
        }
        run.scalars["grad_norm/global", default: []].append((step, time, Double(Float(report.globalNorm))))
        run.scalars["loss", default: []].append((step, time, Double(Float(loss))))
        if !report.incidentEvents.isEmpty {
            run.texts["gradalert/alerts", default: []].append((step, time, IncidentMarkdown.render(report.incidentEvents)))
        }
        if !report.alerts.isEmpty {
            // At a step that raises an alert the monitor writes every histogram, whatever the
            // cadence; the gradients are still there to compute the same summaries from.
            if step % 5 != 0 {
                for (name, parameter) in ParameterDiscovery.namedParameters(of: model) {
                    let statistics = parameter.gradient.withUnsafeBufferPointer { GradientStatisticsKernel.compute($0, histogram: true) }
                    if let histogram = statistics.histogram() {
                        run.histograms["grad/\(name)", default: []].append(.init(step: step, wallTime: time, summary: histogram))
                    }
                }
            }
        }
        if report.shouldSkipStep { break }
        // A learning rate that keeps growing: the run ends in an explosion the monitor reports.
        optimiser.learningRate *= 1.08
        optimiser.step(model.parameters)
    }
    try monitor.close()
    manifest.append(("monitor", run))
}

var json = JSONWriter()
json.beginObject()
json.key("runs")
json.beginObject()
for (name, run) in manifest {
    json.key(name)
    run.write(to: &json)
}
json.endObject()
json.endObject()
try Data(json.output.utf8).write(to: URL(fileURLWithPath: manifestPath))
print("wrote \(manifest.count) runs to \(logdir), manifest \(manifestPath)")
