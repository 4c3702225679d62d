import Foundation
import Testing

@testable import GradAlertLab
@testable import GradientHooks

/// Backpropagation checked against finite differences, for every layer kind: for a scalar loss
/// L = Σ c ⊙ output (fixed random c), the analytic gradient of every parameter and of the input
/// must match (L(w + h) − L(w − h)) / 2h, computed in Double from Float forward passes.
@Suite struct GradientCheckTests {
    static func randomMatrix(_ rows: Int, _ columns: Int, _ random: inout LabRandom, scale: Float = 1) -> Matrix {
        Matrix(rows: rows, columns: columns, values: (0..<(rows * columns)).map { _ in random.normal() * scale })
    }

    /// Checks `layer` on `input`; returns the worst relative error.
    func check(_ layer: any Layer, input: Matrix, seed: UInt64 = 7) -> Double {
        var random = LabRandom(seed: seed)
        let probe = layer.forward(input)
        let weights = Self.randomMatrix(probe.rows, probe.columns, &random)
        func loss(_ x: Matrix) -> Double {
            let output = layer.forward(x)
            return zip(output.values, weights.values).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        for parameter in layer.parameters { parameter.zeroGradient() }
        _ = layer.forward(input)
        let inputGradient = layer.backward(weights)
        var worst = 0.0
        func compare(_ analytic: Float, _ numeric: Double) {
            let error = abs(Double(analytic) - numeric) / max(1e-2, abs(Double(analytic)) + abs(numeric))
            worst = max(worst, error)
        }
        let h: Float = 1e-2
        for parameter in layer.parameters {
            for index in 0..<parameter.count {
                let saved = parameter.values[index]
                parameter.values[index] = saved + h
                let plus = loss(input)
                parameter.values[index] = saved - h
                let minus = loss(input)
                parameter.values[index] = saved
                compare(parameter.gradient[index], (plus - minus) / Double(2 * h))
            }
        }
        for index in 0..<input.values.count {
            var shifted = input
            shifted.values[index] += h
            let plus = loss(shifted)
            shifted.values[index] -= 2 * h
            let minus = loss(shifted)
            compare(inputGradient.values[index], (plus - minus) / Double(2 * h))
        }
        return worst
    }

    @Test func dense() {
        var random = LabRandom(seed: 1)
        let layer = Dense(5, 4, initialisation: .xavier, random: &random)
        for index in 0..<layer.bias.count { layer.bias.values[index] = random.normal() }
        #expect(check(layer, input: Self.randomMatrix(3, 5, &random)) < 1e-3)
    }

    @Test(arguments: ActivationKind.allCases)
    func activation(kind: ActivationKind) {
        var random = LabRandom(seed: 2)
        // Keep inputs away from ReLU's kink, where a finite difference straddles the corner.
        var input = Self.randomMatrix(3, 6, &random)
        for index in input.values.indices where abs(input.values[index]) < 0.05 { input.values[index] += 0.2 }
        #expect(check(Activation(kind), input: input) < 1e-3)
    }

    @Test func layerNorm() {
        var random = LabRandom(seed: 3)
        let layer = LayerNorm(6)
        for index in 0..<6 {
            layer.gain.values[index] = 1 + random.normal() * 0.3
            layer.shift.values[index] = random.normal() * 0.3
        }
        #expect(check(layer, input: Self.randomMatrix(4, 6, &random)) < 2e-3)
    }

    @Test func residualAndSequential() {
        var random = LabRandom(seed: 4)
        let block = Residual(Sequential([Dense(4, 4, initialisation: .xavier, random: &random), Activation(.tanh)]))
        let model = Sequential([Dense(3, 4, initialisation: .xavier, random: &random), block, Dense(4, 2, initialisation: .xavier, random: &random)])
        #expect(check(model, input: Self.randomMatrix(2, 3, &random)) < 1e-3)
    }

    @Test func recurrentThroughTime() {
        var random = LabRandom(seed: 5)
        let rnn = Recurrent(inputs: 2, hidden: 5, activation: .tanh, inputScale: 0.5, recurrentScale: 0.9, random: &random)
        let sequence = (0..<6).map { _ in Self.randomMatrix(3, 2, &random) }
        let probe = rnn.forward(sequence)
        let weights = Self.randomMatrix(probe.rows, probe.columns, &random)
        func loss() -> Double {
            zip(rnn.forward(sequence).values, weights.values).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        for parameter in rnn.parameters { parameter.zeroGradient() }
        _ = rnn.forward(sequence)
        rnn.backward(weights)
        var worst = 0.0
        for parameter in rnn.parameters {
            for index in 0..<parameter.count {
                let saved = parameter.values[index]
                parameter.values[index] = saved + 1e-2
                let plus = loss()
                parameter.values[index] = saved - 1e-2
                let minus = loss()
                parameter.values[index] = saved
                let numeric = (plus - minus) / 2e-2
                let analytic = Double(parameter.gradient[index])
                worst = max(worst, abs(analytic - numeric) / max(1e-2, abs(analytic) + abs(numeric)))
            }
        }
        #expect(worst < 1e-3)
    }

    @Test func softmaxCrossEntropyWithSmoothing() {
        var random = LabRandom(seed: 6)
        let logits = Self.randomMatrix(4, 3, &random, scale: 2)
        let labels = [0, 2, 1, 2]
        for smoothing: Float in [0, 0.1] {
            let (_, gradient) = SoftmaxCrossEntropy.lossAndGradient(logits: logits, labels: labels, smoothing: smoothing)
            for index in logits.values.indices {
                var plus = logits, minus = logits
                plus.values[index] += 1e-2
                minus.values[index] -= 1e-2
                let numeric = (Double(SoftmaxCrossEntropy.lossAndGradient(logits: plus, labels: labels, smoothing: smoothing).loss)
                    - Double(SoftmaxCrossEntropy.lossAndGradient(logits: minus, labels: labels, smoothing: smoothing).loss)) / 2e-2
                #expect(abs(Double(gradient.values[index]) - numeric) < 1e-3)
            }
        }
    }

    /// The lab's models are found by reflection, with the names the monitor logs.
    @Test func modelsAreDiscovered() {
        var random = LabRandom(seed: 8)
        var experiment = Lab.defaultMLP
        experiment.depth = 2
        experiment.residual = true
        let model = Lab.mlp(experiment, random: &random)
        let names = ParameterDiscovery.namedParameters(of: model).map(\.name)
        #expect(names == ["layers.0.weight", "layers.0.bias", "layers.2.body.layers.0.weight", "layers.2.body.layers.0.bias",
                          "layers.3.weight", "layers.3.bias"])
        #expect(names.count == model.parameters.count)
    }

    @Test func optimisersDescend() {
        // Minimise Σ (w − 3)²: every optimiser gets close from 0.
        for make in [{ SGD(learningRate: 0.1, momentum: 0.5) as any Optimiser }, { Adam(learningRate: 0.1) }, { RMSProp(learningRate: 0.05) }] {
            let optimiser = make()
            let parameter = Parameter(shape: [3])
            for _ in 0..<500 {
                for index in 0..<3 { parameter.gradient[index] = 2 * (parameter.values[index] - 3) }
                optimiser.step([parameter])
            }
            #expect(parameter.values.allSatisfy { abs($0 - 3) < 0.05 }, "\(type(of: optimiser)): \(parameter.values)")
        }
    }
}
