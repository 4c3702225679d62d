#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import GradientDetection
import GradientHooks
import TensorBoardEvents

/// The demo's experiments, and how one is trained and logged.
public enum Lab {
    /// Every run of the demo: each cause's baseline and its remedies, cause by cause.
    public static func experiments() -> [Experiment] {
        causes().flatMap(\.experiments)
    }

    /// A deep plain-ReLU MLP with too-large weights and a too-high learning rate (several causes
    /// at once): a model that explodes within a few steps, for tests and the compatibility writer.
    public static let defaultMLP = Experiment(name: "mlp-baseline", change: "8-layer ReLU MLP, normal(0.4) init, SGD lr 0.1, momentum 0.9")

    /// Trains `experiment` for `steps` steps, logging through a `GradientMonitor` into
    /// `logdir/<name>`, and ends with a gradient-flow image (parameters × steps, colour = log10 of
    /// the gradient norm).
    public static func run(_ experiment: Experiment, logdir: String, steps: Int, seed: UInt64) throws -> ExperimentResult {
        var options = GradientMonitor.Options()
        options.histogramEvery = max(steps / 10, 1)
        options.writer.flushInterval = nil
        let monitor = try GradientMonitor(logdir: logdir + "/" + experiment.name, options: options)
        var random = LabRandom(seed: seed)
        let optimiser: any Optimiser
        switch experiment.optimiser {
        case .sgd(let rate, let momentum): optimiser = SGD(learningRate: rate, momentum: momentum)
        case .adam(let rate): optimiser = Adam(learningRate: rate)
        case .rmsprop(let rate): optimiser = RMSProp(learningRate: rate)
        }
        var flow: [[Double]] = []
        var result = ExperimentResult(name: experiment.name, change: experiment.change, stepsRun: 0, finalLoss: .nan,
                                      accuracy: 0, maxGlobalNorm: 0, divergedAt: nil)
        // The task decides the model, how a batch goes forward and back, and what it is judged on;
        // the training loop is the same for both.
        let model: AnyObject
        let parameters: [Parameter]
        let forward: (inout LabRandom) -> (logits: Matrix, labels: [Int])
        let backward: (Matrix) -> Void
        let evaluate: () -> (logits: Matrix, labels: [Int])
        switch experiment.task {
        case .spirals:
            var spirals = Spirals(pointsPerClass: 200, seed: seed &+ 1)
            for index in spirals.inputs.values.indices { spirals.inputs.values[index] *= experiment.inputScale }
            let data = spirals
            let network = mlp(experiment, random: &random)
            (model, parameters) = (network, network.parameters)
            forward = { random in
                let (inputs, labels) = data.batch(experiment.batch, random: &random)
                return (network.forward(inputs), labels)
            }
            backward = { _ = network.backward($0) }
            evaluate = { (network.forward(data.inputs), data.labels) }
        case .firstSign(let length):
            let task = FirstSignTask(length: length)
            let network = RecurrentClassifier(experiment, random: &random)
            (model, parameters) = (network, network.parameters)
            forward = { random in
                let (sequence, labels) = task.batch(experiment.batch, random: &random)
                return (network.forward(sequence), labels)
            }
            backward = { network.backward($0) }
            evaluate = {
                var evaluation = LabRandom(seed: seed &+ 99)
                let (sequence, labels) = task.batch(512, random: &evaluation)
                return (network.forward(sequence), labels)
            }
        }
        monitor.watch(model)
        let names = monitor.watchedNames
        for step in 0..<steps {
            for parameter in parameters { parameter.zeroGradient() }
            let (logits, labels) = forward(&random)
            let (loss, gradient) = experiment.naiveSoftmax
                ? SoftmaxCrossEntropy.naiveLossAndGradient(logits: logits, labels: labels, smoothing: experiment.labelSmoothing)
                : SoftmaxCrossEntropy.lossAndGradient(logits: logits, labels: labels, smoothing: experiment.labelSmoothing)
            backward(gradient)
            if !record(monitor, experiment, step: step, loss: loss, flow: &flow, result: &result) { break }
            optimiser.step(parameters)
        }
        let (logits, labels) = evaluate()
        result.accuracy = SoftmaxCrossEntropy.accuracy(logits: logits, labels: labels)
        result.finalLoss = SoftmaxCrossEntropy.lossAndGradient(logits: logits, labels: labels).loss
        let image = GradientFlowImage.render(norms: flow, rows: names.count)
        try monitor.writer.image("gradient-flow", rgba: image.pixels, width: image.width, height: image.height, step: result.stepsRun)
        try monitor.writer.text("lab/run", "**\(experiment.name)**: \(experiment.change)\n\nparameters (top to bottom in gradient-flow): " + names.joined(separator: ", "), step: 0)
        try monitor.close()
        return result
    }

    /// Records one step; false when training should stop (the gradients are no longer finite).
    private static func record(
        _ monitor: GradientMonitor, _ experiment: Experiment, step: Int, loss: Float,
        flow: inout [[Double]], result: inout ExperimentResult
    ) -> Bool {
        guard let report = try? monitor.record(step: step, loss: Double(loss)) else { return false }
        result.stepsRun = step + 1
        result.alerts += report.alerts
        flow.append(report.parameters.map(\.statistics.l2Norm))
        if report.globalNorm.isFinite { result.maxGlobalNorm = max(result.maxGlobalNorm, report.globalNorm) } else { result.maxGlobalNorm = report.globalNorm }
        if report.shouldSkipStep || !loss.isFinite {
            result.divergedAt = step
            return false
        }
        if let clip = experiment.clipNorm { _ = try? monitor.clipGradNorm(maxNorm: clip) }
        return true
    }

    /// The MLP an experiment describes: Dense(2, width), optional LayerNorm, activation, then depth − 1 hidden blocks
    /// (Dense, optional LayerNorm, activation; optionally residual), then Dense(width, 3).
    public static func mlp(_ experiment: Experiment, random: inout LabRandom) -> Sequential {
        var layers: [any Layer] = [Dense(2, experiment.width, initialisation: experiment.initialisation, random: &random)]
        if experiment.layerNorm { layers.append(LayerNorm(experiment.width)) }
        layers.append(Activation(experiment.activation))
        for _ in 0..<experiment.depth - 1 {
            var block: [any Layer] = [Dense(experiment.width, experiment.width, initialisation: experiment.initialisation, random: &random)]
            if experiment.layerNorm { block.append(LayerNorm(experiment.width)) }
            block.append(Activation(experiment.activation))
            if experiment.residual {
                layers.append(Residual(Sequential(block), scale: experiment.residualScale))
            } else {
                layers += block
            }
        }
        layers.append(Dense(experiment.width, 3, initialisation: experiment.initialisation, random: &random))
        return Sequential(layers)
    }
}
