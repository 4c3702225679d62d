import Foundation
import GradAlertLab
import GradientHooks
import TensorBoardEvents
import Testing

/// The spike guard on real training: one corrupted batch (inputs 300x too large, labels shuffled)
/// wrecks an unguarded MLP; skipping the step, or clipping it to the running level, keeps the
/// run as good as one that never saw the batch. On healthy training the guard never acts.
@Suite struct SpikeGuardTests {
    struct Outcome {
        var accuracy: Float
        var finalLoss: Float
        var skipped: Int
        var clipped: Int
    }

    static func train(guard policy: SpikeGuard.Policy?, corruptAt corrupt: Int?) throws -> Outcome {
        let directory = FileManager.default.temporaryDirectory.path + "/gradalert-guard-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var options = GradientMonitor.Options()
        options.histogramEvery = nil
        options.spikeGuard = policy
        options.writer.flushInterval = nil
        let monitor = try GradientMonitor(logdir: directory, options: options)
        var random = LabRandom(seed: 11)
        var experiment = Lab.defaultMLP
        experiment.depth = 4
        experiment.width = 32
        experiment.initialisation = .kaiming
        let model = Lab.mlp(experiment, random: &random)
        monitor.watch(model)
        let data = Spirals(pointsPerClass: 200, seed: 12)
        let optimiser = SGD(learningRate: 0.05, momentum: 0.9)
        for step in 0..<400 {
            for parameter in model.parameters { parameter.zeroGradient() }
            var (inputs, labels) = data.batch(32, random: &random)
            if step == corrupt {
                // A broken batch: a sensor gone mad, labels shuffled.
                inputs = Matrix(rows: inputs.rows, columns: inputs.columns, values: inputs.values.map { $0 * 300 })
                labels = labels.map { ($0 + 1) % 3 }
            }
            let (_, gradient) = SoftmaxCrossEntropy.lossAndGradient(logits: model.forward(inputs), labels: labels)
            _ = model.backward(gradient)
            let report = try monitor.record(step: step, loss: nil)
            if report.shouldSkipStep { continue }
            optimiser.step(model.parameters)
        }
        try monitor.close()
        let logits = model.forward(data.inputs)
        return Outcome(
            accuracy: SoftmaxCrossEntropy.accuracy(logits: logits, labels: data.labels),
            finalLoss: SoftmaxCrossEntropy.lossAndGradient(logits: logits, labels: data.labels).loss,
            skipped: monitor.spikeGuard?.skipped ?? 0, clipped: monitor.spikeGuard?.clipped ?? 0)
    }

    @Test func aCorruptedBatchWrecksTheUnguardedRunAndNotTheGuardedOnes() throws {
        let clean = try Self.train(guard: nil, corruptAt: nil)
        let wrecked = try Self.train(guard: nil, corruptAt: 200)
        let skipping = try Self.train(guard: .skipStep(), corruptAt: 200)
        let clipping = try Self.train(guard: .adaptiveClip(), corruptAt: 200)
        #expect(clean.accuracy > 0.8, "the clean run learns: \(clean)")
        #expect(!(wrecked.accuracy > clean.accuracy - 0.2) || !wrecked.finalLoss.isFinite, "one bad batch wrecks the unguarded run: \(wrecked) vs \(clean)")
        #expect(skipping.skipped == 1, "\(skipping)")
        #expect(skipping.accuracy >= clean.accuracy - 0.05, "\(skipping) vs \(clean)")
        #expect(clipping.clipped >= 1, "\(clipping)")
        #expect(clipping.accuracy >= clean.accuracy - 0.05, "\(clipping) vs \(clean)")
    }

    @Test func theGuardsStayIdleOnHealthyTraining() throws {
        let skipping = try Self.train(guard: .skipStep(), corruptAt: nil)
        let clipping = try Self.train(guard: .adaptiveClip(), corruptAt: nil)
        #expect(skipping.skipped == 0, "\(skipping)")
        #expect(clipping.clipped == 0, "\(clipping)")
    }

    /// The rules themselves: act over the median + 6 robust σ of the last values (the current one
    /// excluded); clip to the moving mean + zσ; nothing before enough history; NaN always skipped.
    @Test func decisions() {
        var skip = SpikeGuard(.skipStep(window: 50, sigmas: 6, minHistory: 20))
        for step in 0..<40 { #expect(skip.judge(1 + 0.01 * Double(step % 5)) == .pass) }
        if case .skip(let limit) = skip.judge(5) { #expect(limit > 1 && limit < 2.5) } else { Issue.record("5x the level must be skipped") }
        #expect(skip.judge(1.02) == .pass)  // the spike did not join the history
        if case .skip(let limit) = skip.judge(.nan) { #expect(limit.isNaN) } else { Issue.record("NaN is skipped") }
        var clip = SpikeGuard(.adaptiveClip())
        for step in 0..<60 { #expect(clip.judge(1 + 0.1 * Double(step % 3)) == .pass) }
        if case .clip(let norm) = clip.judge(50) { #expect(norm > 1 && norm < 2) } else { Issue.record("50x the level must be clipped") }
        #expect(clip.clipped == 1 && clip.skipped == 0)
    }

    /// A `minHistory` larger than the window would never be reached: it is taken as the window.
    @Test func aMinHistoryBeyondTheWindowStillActs() {
        var skip = SpikeGuard(.skipStep(window: 10, sigmas: 6, minHistory: 50))
        for step in 0..<20 { #expect(skip.judge(1 + 0.01 * Double(step % 5)) == .pass) }
        #expect(skip.judge(100) != .pass)
    }

    /// A clip is a real one: when the running level (pulled up by earlier large norms) is above a
    /// norm the robust rule calls a spike, the step passes and nothing is counted.
    @Test func aClipNeverRaisesOrKeepsTheNorm() {
        var clip = SpikeGuard(.adaptiveClip(window: 50, sigmas: 3, minHistory: 20, alpha: 0.5, zThreshold: 2.5))
        // A level of 1 with a few tens (which the robust median ignores but the moving mean does not).
        for step in 0..<60 { _ = clip.judge(step % 10 == 9 ? 30 : 1) }
        let before = clip.clipped
        let decision = clip.judge(3)
        if case .clip(let norm) = decision { #expect(norm < 3) }
        #expect(decision == .pass ? clip.clipped == before : clip.clipped == before + 1)
        for norm in [2.0, 4, 8, 16, 64] {
            if case .clip(let target) = clip.judge(norm) { #expect(target < norm, "a clip to \(target) of \(norm)") }
        }
    }
}
