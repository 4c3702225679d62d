import Foundation
import GradAlertTestSupport
import MetricsTestKit
import Testing

@testable import GradientDetection
@testable import GradientHooks
@testable import TensorBoardEvents

/// A monitor you can leave running: detection never depends on the log disk; misuse is said once,
/// clearly; clipping reuses what record measured.
@Suite struct MonitorReliabilityTests {
    /// The log disk fills up mid-run. Every step is still measured and judged: a NaN gradient at a
    /// step whose records cannot be written still raises its alert and says skip; `record` does not
    /// throw; the failure is in the report and the callback. When space returns, writing carries on,
    /// and a scan of the file finds every step.
    @Test func aFullLogDiskNeverBlindsDetection() throws {
        guard let disk = try SmallFileSystem(kilobytes: 512) else {
            withKnownIssue("cannot mount a tmpfs here (not root?)") { Issue.record("tmpfs mount failed") }
            return
        }
        var options = GradientMonitor.Options()
        options.histogramEvery = 1  // large records: the disk fills fast
        options.writer.flushInterval = nil
        options.writer.flushBytes = 8 * 1024
        let monitor = try GradientMonitor(logdir: disk.path + "/run", options: options)
        var failures = 0
        monitor.onWriteFailure = { _ in failures += 1 }
        let net = TinyNet(seed: 3)
        monitor.watch(net)
        try disk.fill(leaving: 24 * 1024)
        let (inputs, targets) = task(64)
        var reports: [GradientMonitor.StepReport] = []
        for step in 0..<60 {
            _ = net.lossAndGradients(inputs, targets)
            if step == 40 { net.output.weight.gradient[3] = .nan }
            reports.append(try monitor.record(step: step, loss: 0.5))  // never throws for the disk
            if step < 40 { net.sgd(0.01) }
            if step == 50 { try disk.free() }
        }
        let broken = reports[40]
        #expect(broken.writeFailure != nil, "the disk is full at step 40")
        #expect(broken.alerts.contains { $0.kind == .nonfinite })
        #expect(broken.shouldSkipStep)
        #expect(failures > 0 && monitor.writeFailures == failures)
        #expect(reports[40].writeFailure?.code == ENOSPC)
        // Space returned at step 50: what was buffered is written, and nothing is lost.
        #expect(reports.last?.writeFailure == nil)
        try monitor.close()
        let entries = EventFileReader(path: monitor.writer.path).readAll()
        #expect(!entries.contains { if case .diagnostic = $0 { true } else { false } })
        let steps = Set(entries.compactMap { entry -> Int64? in
            guard case .event(let event, _) = entry, event.summaryValues.contains(where: { $0.tag == "grad_norm/global" }) else { return nil }
            return event.step
        })
        #expect(steps == Set(0..<60), "every step's norms reached the file")
    }

    /// With `throwOnWriteFailure`, record throws — after judging the step.
    @Test func throwingOnWriteFailureIsAnOption() throws {
        guard let disk = try SmallFileSystem(kilobytes: 256) else {
            withKnownIssue("cannot mount a tmpfs here (not root?)") { Issue.record("tmpfs mount failed") }
            return
        }
        var options = GradientMonitor.Options()
        options.throwOnWriteFailure = true
        options.histogramEvery = 1
        options.writer.flushBytes = 4096
        let monitor = try GradientMonitor(logdir: disk.path + "/run", options: options)
        monitor.watch(TinyNet(seed: 4))
        try disk.fill(leaving: 4096)
        var thrown: (any Error)?
        for step in 0..<50 {
            do { try monitor.record(step: step, loss: 1) } catch {
                thrown = error
                break
            }
        }
        let error = try #require(thrown as? SummaryWriterError)
        #expect(error.code == ENOSPC)
        #expect((thrown! as any Error).localizedDescription.contains("No space left on device"))
        #expect(monitor.writeFailures == 1)
    }

    /// Errors read as what they say: `localizedDescription` is the message, not "error 1".
    @Test func errorsDescribeThemselves() {
        let errors: [any Error] = [
            SummaryWriterError(.writeFailed, path: "/logs/run/events", code: ENOSPC, reason: "write failed: No space left on device"),
            GradientMonitorError.gradientLengthMismatch(parameter: "fc.weight", values: 6, gradient: 4),
            DetectorConfigurationError(setting: "spike.window", requirement: "at least 10", value: "3"),
            GradientClipping.NonFiniteNormError(totalNorm: .nan, normType: 2),
            LogDirectory.Error.notFound("/no/such"),
            WireError.truncated,
            PNG.Error.compressionFailed(code: -2),
        ]
        for error in errors {
            #expect(error.localizedDescription == "\(error)")
            #expect(!error.localizedDescription.contains("The operation could not be completed"))
        }
    }

    /// A gradient of the wrong length is an error the user sees, not a silently measured buffer.
    @Test func aGradientOfTheWrongLengthIsAnError() throws {
        let directory = try TemporaryDirectory()
        let monitor = try GradientMonitor(logdir: directory.path)
        let net = TinyNet(seed: 5)
        monitor.watch(net)
        net.hidden.weight.gradient = [1, 2, 3]
        #expect(throws: GradientMonitorError.gradientLengthMismatch(parameter: "hidden.weight", values: 32, gradient: 3)) {
            try monitor.record(step: 0, loss: 1)
        }
        // The error's advice works: zeroGradient() gives the gradient its parameter's length.
        net.hidden.weight.zeroGradient()
        #expect(net.hidden.weight.gradient.count == 32)
        _ = try monitor.record(step: 0, loss: 1)
    }

    /// Watching nothing, recording before watching, and watching a parameter twice are each said
    /// once; a parameter watched twice is measured and clipped once.
    @Test func misuseIsSaidOnce() throws {
        let directory = try TemporaryDirectory()
        let monitor = try GradientMonitor(logdir: directory.path)
        var warnings: [String] = []
        monitor.onWarning = { warnings.append($0) }
        struct NoParameters { var width = 3 }
        #expect(monitor.watch(NoParameters()) == 0)
        _ = try monitor.record(step: 0, loss: 1)
        _ = try monitor.record(step: 1, loss: 1)
        #expect(warnings.count == 2)
        #expect(warnings[0].contains("found nothing to watch in NoParameters"))
        #expect(warnings[1].contains("call watch(_:) with your model first"))

        let net = TinyNet(seed: 6)
        #expect(monitor.watch(net) == 4)
        #expect(monitor.watch(net) == 0)
        #expect(monitor.watch(net) == 0)
        #expect(warnings.count == 3 && warnings[2].contains("is already watched"))
        #expect(monitor.watchedNames.count == 4)
        let (inputs, targets) = task(32)
        _ = net.lossAndGradients(inputs, targets)
        let before = net.hidden.weight.gradient
        let report = try monitor.record(step: 2, loss: 1)
        #expect(report.parameters.count == 4)
        let total = try monitor.clipGradNorm(maxNorm: report.globalNorm / 2)
        #expect(abs(total - report.globalNorm) <= 1e-12 * report.globalNorm)
        // Scaled once by one half (scaled twice, it would be a quarter).
        for (after, original) in zip(net.hidden.weight.gradient, before) {
            #expect(abs(after - original / 2) <= 1e-6 * abs(original))
        }
    }

    /// Two models whose parameters share names: the second is not watched under the same names
    /// (its gradients would mix into the first's series) unless a prefix tells them apart; a
    /// GradientSource that reuses some watched names is refused the same way.
    @Test func namesThatCollideAreRefusedAndAPrefixSeparatesThem() throws {
        let directory = try TemporaryDirectory()
        let monitor = try GradientMonitor(logdir: directory.path)
        var warnings: [String] = []
        monitor.onWarning = { warnings.append($0) }
        let first = TinyNet(seed: 10)
        let second = TinyNet(seed: 11)
        #expect(monitor.watch(first) == 4)
        #expect(monitor.watch(second) == 0)
        #expect(warnings.count == 1 && warnings[0].contains("its parameter names hidden.weight, hidden.bias, output.weight and 1 more are already in use"), "\(warnings)")
        #expect(monitor.watch(second, prefix: "twin") == 4)
        #expect(monitor.watchedNames.count == 8)
        #expect(monitor.watchedNames.contains("twin.hidden.weight"))

        struct Overlapping: GradientSource {
            var parameterNames: [String] { ["hidden.weight", "extra"] }
            func withGradient<R>(of name: String, _ body: (GradientBuffer) throws -> R) rethrows -> R {
                try [Float](repeating: 1, count: 4).withUnsafeBufferPointer { try body(.float($0)) }
            }
        }
        monitor.watch(source: Overlapping())
        #expect(warnings.count == 2 && warnings[1].contains("already in use (hidden.weight)"), "\(warnings)")
        #expect(monitor.watchedNames.count == 8)

        let (inputs, targets) = task(32)
        _ = first.lossAndGradients(inputs, targets)
        _ = second.lossAndGradients(inputs, targets)
        let report = try monitor.record(step: 0, loss: 1)
        #expect(Set(report.parameters.map(\.name)).count == 8)
        let firstNorm = try #require(report.parameters.first { $0.name == "hidden.weight" }?.statistics.l2Norm)
        let twinNorm = try #require(report.parameters.first { $0.name == "twin.hidden.weight" }?.statistics.l2Norm)
        #expect(firstNorm != twinNorm, "two nets with different seeds have different gradients")
    }

    /// A model that shares only some names with what is watched is refused whole (not half
    /// watched under two naming schemes); `global` is the global norm's name and no parameter's;
    /// a gradient handed to record under a name in use is not measured twice.
    @Test func aPartlyCollidingModelIsRefusedWhole() throws {
        final class Half { let hidden = Parameter(shape: [8]); let other = Parameter(shape: [8]) }
        final class Named { let global = Parameter(shape: [4]) }
        final class Base { let hidden = Parameter(shape: [8]) }
        let directory = try TemporaryDirectory()
        let monitor = try GradientMonitor(logdir: directory.path)
        var warnings: [String] = []
        monitor.onWarning = { warnings.append($0) }
        #expect(monitor.watch(Base()) == 1)
        #expect(monitor.watch(Half()) == 0)
        #expect(monitor.watchedNames == ["hidden"], "nothing of Half is watched, not even 'other'")
        #expect(warnings.last?.contains("did not watch Half: its parameter names hidden are already in use") == true, "\(warnings)")
        #expect(monitor.watch(Named()) == 0)
        #expect(warnings.last?.contains("did not watch Named: its parameter names global are already in use") == true, "\(warnings)")
        #expect(monitor.watch(Named(), prefix: "head") == 1)
        #expect(monitor.watchedNames == ["hidden", "head.global"])

        let extra: [Float] = [3, 4]
        let report = try extra.withUnsafeBufferPointer { buffer in
            try monitor.record(step: 0, loss: 1, gradients: [NamedGradient("hidden", buffer), NamedGradient("extra", buffer), NamedGradient("extra", buffer)])
        }
        #expect(report.parameters.map(\.name) == ["hidden", "head.global", "extra"])
        #expect(warnings.filter { $0.contains("a name already in use") }.count == 2, "\(warnings)")
        #expect(report.globalNorm == 5, "the extra gradient counts once: \(report.globalNorm)")
    }

    /// A step that does not grow (record called twice per step, or a counter reset) is said once:
    /// it reads as a restart, and the detector would start afresh each time.
    @Test func aStepThatDoesNotGrowIsSaidOnce() throws {
        let directory = try TemporaryDirectory()
        let monitor = try GradientMonitor(logdir: directory.path)
        var warnings: [String] = []
        monitor.onWarning = { warnings.append($0) }
        let net = TinyNet(seed: 12)
        monitor.watch(net)
        for step in [0, 1, 2] { _ = try monitor.record(step: step, loss: 1) }
        #expect(warnings.isEmpty, "\(warnings)")
        _ = try monitor.record(step: 2, loss: 1)
        _ = try monitor.record(step: 1, loss: 1)
        #expect(warnings.count == 1 && warnings[0].contains("record(step: 2) after step 2: a step that does not grow reads as a restart"), "\(warnings)")
    }

    /// With a filter that leaves some parameters out, watching the same model again says they are
    /// already watched, not that the filter accepts none.
    @Test func watchingAFilteredModelTwiceSaysAlreadyWatched() throws {
        let directory = try TemporaryDirectory()
        var options = GradientMonitor.Options()
        options.filter = .containing("hidden")
        let monitor = try GradientMonitor(logdir: directory.path, options: options)
        var warnings: [String] = []
        monitor.onWarning = { warnings.append($0) }
        let net = TinyNet(seed: 9)
        #expect(monitor.watch(net) == 2)
        #expect(monitor.watch(net) == 0)
        #expect(warnings.count == 1 && warnings[0].contains("is already watched"), "\(warnings)")
    }

    /// clipGradNorm right after record reuses record's norms, and clips exactly as
    /// GradientClipping (PyTorch's semantics) does on the same gradients.
    @Test func clippingReusesRecordsNorms() throws {
        let directory = try TemporaryDirectory()
        let monitor = try GradientMonitor(logdir: directory.path)
        let net = TinyNet(seed: 7, scale: 2)
        let twin = TinyNet(seed: 7, scale: 2)
        monitor.watch(net)
        let (inputs, targets) = task(64)
        _ = net.lossAndGradients(inputs, targets)
        _ = twin.lossAndGradients(inputs, targets)
        _ = try monitor.record(step: 0, loss: 1)
        #expect(monitor.lastNorms != nil)
        let total = try monitor.clipGradNorm(maxNorm: 0.1)
        #expect(monitor.lastNorms == nil, "the gradients changed: the norms are not reused again")
        let reference = try GradientClipping.clipGradNorm(
            [twin.hidden.weight, twin.hidden.bias, twin.output.weight, twin.output.bias], maxNorm: 0.1)
        #expect(abs(total - reference) <= 1e-12 * reference)
        for (a, b) in zip([net.hidden.weight, net.hidden.bias, net.output.weight, net.output.bias],
                          [twin.hidden.weight, twin.hidden.bias, twin.output.weight, twin.output.bias]) {
            #expect(a.gradient == b.gradient)
        }
    }

    /// record's norms serve one clipGradNorm: a second call, after the gradients changed where the
    /// monitor cannot see (the caller doubled them), measures again.
    @Test func recordsNormsServeOneClip() throws {
        let directory = try TemporaryDirectory()
        let monitor = try GradientMonitor(logdir: directory.path)
        let net = TinyNet(seed: 8, scale: 2)
        monitor.watch(net)
        let (inputs, targets) = task(64)
        _ = net.lossAndGradients(inputs, targets)
        let report = try monitor.record(step: 0, loss: 1)
        let first = try monitor.clipGradNorm(maxNorm: 1e9)  // no clip: factor 1
        #expect(abs(first - report.globalNorm) <= 1e-9 * first)
        for parameter in [net.hidden.weight, net.hidden.bias, net.output.weight, net.output.bias] {
            for index in parameter.gradient.indices { parameter.gradient[index] *= 2 }
        }
        let second = try monitor.clipGradNorm(maxNorm: 1e9)
        #expect(abs(second - 2 * first) <= 1e-5 * second, "measured again: \(second), not the stale \(first)")
    }

    /// Incidents reach the caller three ways: the report, the callback, and one Markdown block per
    /// incident event in TensorBoard's Text tab; weight histograms go beside the gradients'.
    @Test func incidentsInTheReportTheCallbackAndTheTextTab() throws {
        let directory = try TemporaryDirectory()
        var options = GradientMonitor.Options()
        options.histogramEvery = 10
        options.weightHistograms = true
        let monitor = try GradientMonitor(logdir: directory.path, options: options)
        var called: [IncidentEvent] = []
        monitor.onIncident = { called.append($0) }
        let net = TinyNet(seed: 2, scale: 2)
        monitor.watch(net)
        let (inputs, targets) = task(64)
        var reported: [IncidentEvent] = []
        var opened: [Incident] = []
        for step in 0..<200 {
            let loss = net.lossAndGradients(inputs, targets)
            let report = try monitor.record(step: step, loss: Double(loss))
            reported += report.incidentEvents
            opened += report.incidents
            if report.shouldSkipStep { break }
            net.sgd(step < 20 ? 0.05 : 0.05 * pow(1.5, Float(step - 20)))
        }
        try monitor.close()
        #expect(reported.first?.change == .opened)
        #expect(called == reported)
        #expect(!opened.isEmpty && opened.allSatisfy { $0.alerts.count > 0 })
        var texts: [String] = []
        var weights: Set<String> = []
        for case .event(let event, _) in EventFileReader(path: monitor.writer.path).readAll() {
            for value in event.summaryValues {
                if value.tag == "gradalert/alerts", case .text(let strings) = value.value { texts += strings }
                if value.tag.hasPrefix("weights/") { weights.insert(value.tag) }
            }
        }
        #expect(texts.count == Set(reported.map(\.step)).count, "one text record per step with incident events")
        #expect(texts.first?.contains("incident opened at step \(reported[0].step)") == true)
        #expect(texts.first?.contains(reported[0].incident.headline) == true)
        #expect(weights == ["weights/hidden.weight", "weights/hidden.bias", "weights/output.weight", "weights/output.bias"])
    }
}

/// The monitor's numbers through swift-metrics: a program that bootstraps a backend gets them.
@Suite struct MonitorMetricsTests {
    @Test func reportsThroughSwiftMetrics() throws {
        let directory = try TemporaryDirectory()
        let metrics = TestMetrics()
        var options = GradientMonitor.Options()
        options.metricsFactory = metrics
        options.metricsRun = "exp1"
        options.metricsLayerNorms = true
        let monitor = try GradientMonitor(logdir: directory.path, options: options)
        let net = TinyNet(seed: 2, scale: 2)
        monitor.watch(net)
        let (inputs, targets) = task(64)
        var last: GradientMonitor.StepReport?
        var opened = 0
        for step in 0..<200 {
            let loss = net.lossAndGradients(inputs, targets)
            let report = try monitor.record(step: step, loss: Double(loss))
            opened += report.incidentEvents.filter { $0.change == .opened }.count
            last = report
            if report.shouldSkipStep { break }
            net.sgd(step < 20 ? 0.05 : 0.05 * pow(1.5, Float(step - 20)))
        }
        try monitor.close()
        let report = try #require(last)
        let step = try metrics.expectGauge("gradalert_last_step", [("run", "exp1")])
        #expect(step.lastValue == Double(report.step))
        let norm = try metrics.expectGauge("gradalert_gradient_norm", [("run", "exp1")]).lastValue
        #expect(norm.map { $0 == report.globalNorm || ($0.isNaN && report.globalNorm.isNaN) } == true)
        #expect(opened > 0)
        let counted = metrics.counters.filter { $0.label == "gradalert_incidents_opened_total" }.map(\.totalValue).reduce(0, +)
        #expect(counted == Int64(opened))
        let layer = try metrics.expectGauge("gradalert_layer_gradient_norm", [("run", "exp1"), ("layer", "hidden.weight")])
        #expect(layer.values.count == report.step + 1)
        let loss = try metrics.expectGauge("gradalert_loss", [("run", "exp1")])
        #expect(loss.values.count == report.step + 1)
    }

    /// A loop that never passes a loss exports no loss (a gauge at 0 would read as a perfect
    /// loss); a NaN norm is exported as the one NaN Prometheus parses.
    @Test func noLossNoLossGauge() throws {
        let directory = try TemporaryDirectory()
        let metrics = TestMetrics()
        var options = GradientMonitor.Options()
        options.metricsFactory = metrics
        options.metricsRun = "exp2"
        let monitor = try GradientMonitor(logdir: directory.path, options: options)
        let net = TinyNet(seed: 3)
        monitor.watch(net)
        let (inputs, targets) = task(16)
        _ = net.lossAndGradients(inputs, targets)
        _ = try monitor.record(step: 0, loss: nil)
        net.hidden.weight.gradient[0] = -Float.nan
        _ = try monitor.record(step: 1, loss: nil)
        try monitor.close()
        #expect(metrics.recorders(label: "gradalert_loss").isEmpty)
        #expect(!metrics.recorders(label: "gradalert_last_step").isEmpty)
        let norm = try #require(try metrics.expectGauge("gradalert_gradient_norm", [("run", "exp2")]).lastValue)
        #expect(norm.isNaN && norm.sign == .plus)
    }
}
