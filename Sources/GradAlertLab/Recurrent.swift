#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GradientHooks

/// A vanilla (Elman) recurrent layer: h_t = act(x_t·W_inᵀ + h_{t−1}·W_recᵀ + b), h_0 = 0,
/// returning the last hidden state. Backpropagation through time multiplies by W_rec once per
/// step, so its gradients explode when W_rec is large and the sequence long — the classic case.
public final class Recurrent {
    public let input: Parameter      // [hidden, inputs]
    public let recurrent: Parameter  // [hidden, hidden]
    public let bias: Parameter       // [hidden]
    public let activation: ActivationKind
    private var inputs: [Matrix] = []
    private var preActivations: [Matrix] = []
    private var states: [Matrix] = []  // states[t] = h_t, states[0] = h_0

    public init(inputs: Int, hidden: Int, activation: ActivationKind, inputScale: Float, recurrentScale: Float, random: inout LabRandom) {
        var w = [Float](repeating: 0, count: hidden * inputs)
        for index in w.indices { w[index] = random.normal() * inputScale }
        var u = [Float](repeating: 0, count: hidden * hidden)
        for index in u.indices { u[index] = random.normal() * recurrentScale / Float(hidden).squareRoot() }
        input = Parameter(shape: [hidden, inputs], values: w)
        recurrent = Parameter(shape: [hidden, hidden], values: u)
        bias = Parameter(shape: [hidden])
        self.activation = activation
    }

    public var parameters: [Parameter] { [input, recurrent, bias] }

    /// `sequence[t]` is the batch of inputs at time t.
    public func forward(_ sequence: [Matrix]) -> Matrix {
        let hidden = bias.count
        let batch = sequence.first?.rows ?? 0
        inputs = sequence
        preActivations = []
        states = [Matrix(zeros: batch, hidden)]
        for x in sequence {
            var z = input.values.withUnsafeBufferPointer { x.timesTransposed($0, rows: hidden) }
            let fromState = recurrent.values.withUnsafeBufferPointer { states.last!.timesTransposed($0, rows: hidden) }
            for index in z.values.indices { z.values[index] += fromState.values[index] + bias.values[index % hidden] }
            preActivations.append(z)
            var h = z
            for index in h.values.indices { h.values[index] = Activation.apply(activation, z.values[index]) }
            states.append(h)
        }
        return states.last!
    }

    /// Takes the gradient with respect to the last state; accumulates parameter gradients.
    public func backward(_ lastStateGradient: Matrix) {
        let hidden = bias.count
        var stateGradient = lastStateGradient
        for t in stride(from: inputs.count - 1, through: 0, by: -1) {
            var dz = stateGradient
            for index in dz.values.indices { dz.values[index] *= Activation.derivative(activation, preActivations[t].values[index]) }
            input.gradient.withUnsafeMutableBufferPointer { dz.accumulateTransposedProduct(with: inputs[t], into: $0) }
            recurrent.gradient.withUnsafeMutableBufferPointer { dz.accumulateTransposedProduct(with: states[t], into: $0) }
            for row in 0..<dz.rows {
                for column in 0..<hidden { bias.gradient[column] += dz[row, column] }
            }
            stateGradient = recurrent.values.withUnsafeBufferPointer { dz.times($0, columns: hidden) }
        }
    }
}
