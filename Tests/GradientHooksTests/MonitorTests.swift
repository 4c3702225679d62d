import Foundation
import GradAlertTestSupport
import Testing

@testable import GradientDetection
@testable import GradientHooks
@testable import TensorBoardEvents

/// A real two-layer tanh network with hand-written backpropagation, trained on a real task
/// (noisy XOR-like regression), so the monitor sees real gradients.
struct TinyNet {
    var hidden = Dense(2, 16)
    var output = Dense(16, 1)

    init(seed: UInt64, scale: Float = 0.5) {
        var random = TestRandom(seed: seed)
        func next() -> Float { Float(random.next() >> 40) / Float(1 << 24) * 2 - 1 }
        for p in [hidden.weight, output.weight] { for i in 0..<p.count { p.values[i] = next() * scale } }
    }

    /// Mean squared error on the batch; fills the gradients.
    func lossAndGradients(_ inputs: [(Float, Float)], _ targets: [Float]) -> Float {
        for p in [hidden.weight, hidden.bias, output.weight, output.bias] { p.zeroGradient() }
        var loss: Float = 0
        let n = Float(inputs.count)
        for (x, t) in zip(inputs, targets) {
            var h = [Float](repeating: 0, count: 16)
            for j in 0..<16 {
                h[j] = tanh(hidden.weight.values[j * 2] * x.0 + hidden.weight.values[j * 2 + 1] * x.1 + hidden.bias.values[j])
            }
            var y = output.bias.values[0]
            for j in 0..<16 { y += output.weight.values[j] * h[j] }
            let error = y - t
            loss += error * error / n
            let dy = 2 * error / n
            output.bias.gradient[0] += dy
            for j in 0..<16 {
                output.weight.gradient[j] += dy * h[j]
                let dh = dy * output.weight.values[j] * (1 - h[j] * h[j])
                hidden.weight.gradient[j * 2] += dh * x.0
                hidden.weight.gradient[j * 2 + 1] += dh * x.1
                hidden.bias.gradient[j] += dh
            }
        }
        return loss
    }

    func sgd(_ rate: Float) {
        for p in [hidden.weight, hidden.bias, output.weight, output.bias] {
            for i in 0..<p.count { p.values[i] -= rate * p.gradient[i] }
        }
    }
}

func task(_ count: Int) -> ([(Float, Float)], [Float]) {
    var inputs: [(Float, Float)] = []
    var targets: [Float] = []
    for i in 0..<count {
        let a = Float(i % 7) / 3 - 1, b = Float((i * 3) % 11) / 5 - 1
        inputs.append((a, b))
        targets.append(a * b > 0 ? 1 : -1)
    }
    return (inputs, targets)
}

@Suite struct MonitorTests {
    func temporary() -> String {
        FileManager.default.temporaryDirectory.path + "/gradalert-monitor-" + UUID().uuidString
    }

    /// Healthy training: loss goes down, no alert; the logdir holds every tag the docs promise,
    /// with the numbers the report gave.
    @Test func healthyTrainingIsLoggedAndQuiet() throws {
        let logdir = temporary()
        defer { try? FileManager.default.removeItem(atPath: logdir) }
        var options = GradientMonitor.Options()
        options.histogramEvery = 50
        options.updateRatio = true
        let monitor = try GradientMonitor(logdir: logdir, options: options)
        let net = TinyNet(seed: 1)
        monitor.watch(net)
        #expect(monitor.watchedNames == ["hidden.weight", "hidden.bias", "output.weight", "output.bias"])
        let (inputs, targets) = task(64)
        var first: Float = 0, last: Float = 0
        var reports: [GradientMonitor.StepReport] = []
        for step in 0..<300 {
            let loss = net.lossAndGradients(inputs, targets)
            if step == 0 { first = loss }
            last = loss
            let report = try monitor.record(step: step, loss: Double(loss))
            reports.append(report)
            #expect(!report.shouldSkipStep)
            net.sgd(0.1)
        }
        try monitor.close()
        #expect(last < first * 0.5, "the network should learn: \(first) -> \(last)")
        #expect(reports.allSatisfy { $0.alerts.isEmpty }, "\(reports.flatMap(\.alerts).map(\.message))")

        // Read the logdir back.
        let file = try #require(try LogDirectory.runs(in: logdir).first?.files.first)
        var scalars: [String: [Int64: Double]] = [:]
        var histograms: [String: [Int64]] = [:]
        for case .event(let event, _) in EventFileReader(path: file).readAll() {
            for value in event.summaryValues {
                switch value.value {
                case .scalar(let number): scalars[value.tag, default: [:]][event.step] = number
                case .histogram: histograms[value.tag, default: []].append(event.step)
                default: break
                }
            }
        }
        for name in ["hidden.weight", "hidden.bias", "output.weight", "output.bias"] {
            #expect(scalars["grad_norm/\(name)"]?.count == 300)
            #expect(scalars["grad_max/\(name)"]?.count == 300)
            #expect(histograms["grad/\(name)"] == [0, 50, 100, 150, 200, 250])
            #expect(scalars["update_ratio/\(name)"]?.count == 299)
        }
        #expect(scalars["loss"]?.count == 300)
        let global = try #require(scalars["grad_norm/global"])
        for (step, report) in reports.enumerated() {
            #expect(global[Int64(step)] == Double(Float(report.globalNorm)))
        }
        #expect(scalars.keys.allSatisfy { !$0.hasPrefix("grad_nonfinite") })
    }

    /// The same network with a far too high learning rate explodes; the monitor says so at the
    /// step it happens, in the report, in the callback and as Markdown in the logdir, and says to
    /// skip the step once the gradients are not finite.
    @Test func explodingTrainingIsCaught() throws {
        let logdir = temporary()
        defer { try? FileManager.default.removeItem(atPath: logdir) }
        var options = GradientMonitor.Options()
        options.histogramEvery = 10
        var called: [Alert] = []
        let monitor = try GradientMonitor(logdir: logdir, options: options) { called.append($0) }
        let net = TinyNet(seed: 2, scale: 2)
        monitor.watch(net)
        let (inputs, targets) = task(64)
        var alerts: [Alert] = []
        var skipped = false
        for step in 0..<200 {
            let loss = net.lossAndGradients(inputs, targets)
            let report = try monitor.record(step: step, loss: Double(loss))
            alerts += report.alerts
            if report.shouldSkipStep {
                skipped = true
                #expect(report.nonFiniteParameters.isEmpty == false)
                break
            }
            net.sgd(step < 20 ? 0.05 : 0.05 * pow(1.5, Float(step - 20)))  // a learning rate that runs away
        }
        try monitor.close()
        #expect(!alerts.isEmpty)
        #expect(called.count == alerts.count)
        #expect(alerts.contains { $0.severity == .critical })
        #expect(skipped || alerts.contains { $0.kind == .spike })
        let texts = EventFileReader(path: try #require(try LogDirectory.runs(in: logdir).first?.files.first)).readAll().compactMap { entry -> String? in
            guard case .event(let event, _) = entry, let value = event.summaryValues.first, value.tag == "gradalert/alerts",
                case .text(let strings) = value.value else { return nil }
            return strings.first
        }
        #expect(!texts.isEmpty)
        #expect(texts.first?.contains("What to try:") == true)
        #expect(texts.first?.contains("at step \(alerts.first!.step)") == true)
    }

    /// The histograms written at an alert's step show the gradients as they were, not as the spike
    /// guard clipped them afterwards.
    @Test func alertStepHistogramsPrecedeTheSpikeGuardsClip() throws {
        final class Model { let w = Parameter(shape: [256]) }
        let logdir = temporary()
        defer { try? FileManager.default.removeItem(atPath: logdir) }
        var options = GradientMonitor.Options()
        options.histogramEvery = 1000
        options.spikeGuard = .adaptiveClip()
        let monitor = try GradientMonitor(logdir: logdir, options: options)
        let model = Model()
        monitor.watch(model)
        let spikeStep = 60
        var spikeMax: Float = 0
        var spikeReport: GradientMonitor.StepReport?
        for step in 0...spikeStep {
            let scale: Float = step == spikeStep ? 1000 : 1
            model.w.gradient = (0..<256).map { 0.01 * scale * (1 + 0.2 * sin(Float($0 * 7 + step))) }
            if step == spikeStep { spikeMax = model.w.gradient.map(abs).max()! }
            let report = try monitor.record(step: step)
            if step == spikeStep { spikeReport = report }
        }
        try monitor.close()
        let report = try #require(spikeReport)
        #expect(report.alerts.contains { $0.kind == .spike })
        guard case .clip(let clippedTo) = report.guardDecision else {
            Issue.record("the guard should clip the spike, not \(report.guardDecision)")
            return
        }
        #expect(clippedTo < report.globalNorm / 10)
        #expect(model.w.gradient.map(abs).max()! < spikeMax / 10, "the guard clipped the gradients in place")

        let file = try #require(try LogDirectory.runs(in: logdir).first?.files.first)
        var written: HistogramSummary?
        for case .event(let event, _) in EventFileReader(path: file).readAll() where event.step == Int64(spikeStep) {
            for value in event.summaryValues where value.tag == "grad/w" {
                if case .histogram(let summary) = value.value { written = summary }
            }
        }
        let summary = try #require(written, "no histogram at the alert's step")
        #expect(summary.max == Double(spikeMax))
    }

    /// Raw buffers and foreign storage go through the same path.
    @Test func rawBuffersAndSources() throws {
        struct Foreign: GradientSource {
            var storage: [String: [Double]]
            var parameterNames: [String] { storage.keys.sorted() }
            func withGradient<R>(of name: String, _ body: (GradientBuffer) throws -> R) rethrows -> R {
                try storage[name]!.withUnsafeBufferPointer { try body(.double($0)) }
            }
        }
        let logdir = temporary()
        defer { try? FileManager.default.removeItem(atPath: logdir) }
        let monitor = try GradientMonitor(logdir: logdir)
        monitor.watch(source: Foreign(storage: ["a": [3, 4], "b": [0, 0, 12]]))
        let raw: [Float] = [1, .nan, 2]
        let report = try raw.withUnsafeBufferPointer { buffer in
            try monitor.record(step: 0, loss: nil, gradients: [NamedGradient("c", buffer)])
        }
        #expect(report.parameters.map(\.name) == ["a", "b", "c"])
        #expect(report.parameters[0].statistics.l2Norm == 5)
        #expect(report.parameters[1].statistics.l2Norm == 12)
        #expect(report.parameters[2].statistics.nanCount == 1)
        #expect(report.shouldSkipStep)
        #expect(report.nonFiniteParameters == ["c"])
        #expect(report.globalNorm.isNaN)
        try monitor.close()
    }
}
