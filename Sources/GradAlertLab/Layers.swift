#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GradientHooks

/// A layer with hand-written backpropagation: `forward` keeps what `backward` needs, `backward`
/// adds its parameters' gradients and returns the gradient with respect to its input.
public protocol Layer: AnyObject {
    func forward(_ input: Matrix) -> Matrix
    func backward(_ outputGradient: Matrix) -> Matrix
    /// The layer's own parameters (containers list their children's).
    var parameters: [Parameter] { get }
}

/// How weights start.
public enum Initialisation: Sendable, Equatable {
    /// Normal with a fixed standard deviation, whatever the layer's size.
    case normal(Float)
    /// Xavier/Glorot: σ = sqrt(2 / (fanIn + fanOut)), for tanh/sigmoid.
    case xavier
    /// Kaiming/He: σ = sqrt(2 / fanIn), for ReLU-family activations.
    case kaiming

    func standardDeviation(fanIn: Int, fanOut: Int) -> Float {
        switch self {
        case .normal(let sigma): sigma
        case .xavier: (2 / Float(fanIn + fanOut)).squareRoot()
        case .kaiming: (2 / Float(fanIn)).squareRoot()
        }
    }
}

/// y = x·Wᵀ + b, W of shape [outputs, inputs].
public final class Dense: Layer {
    public let weight: Parameter
    public let bias: Parameter
    private var input = Matrix(zeros: 0, 0)

    public init(_ inputs: Int, _ outputs: Int, initialisation: Initialisation, random: inout LabRandom) {
        let sigma = initialisation.standardDeviation(fanIn: inputs, fanOut: outputs)
        var values = [Float](repeating: 0, count: inputs * outputs)
        for index in values.indices { values[index] = random.normal() * sigma }
        weight = Parameter(shape: [outputs, inputs], values: values)
        bias = Parameter(shape: [outputs])
    }

    public var parameters: [Parameter] { [weight, bias] }

    public func forward(_ input: Matrix) -> Matrix {
        self.input = input
        var output = weight.values.withUnsafeBufferPointer { input.timesTransposed($0, rows: weight.shape[0]) }
        for row in 0..<output.rows {
            for column in 0..<output.columns { output[row, column] += bias.values[column] }
        }
        return output
    }

    public func backward(_ outputGradient: Matrix) -> Matrix {
        weight.gradient.withUnsafeMutableBufferPointer { outputGradient.accumulateTransposedProduct(with: input, into: $0) }
        for row in 0..<outputGradient.rows {
            for column in 0..<outputGradient.columns { bias.gradient[column] += outputGradient[row, column] }
        }
        return weight.values.withUnsafeBufferPointer { outputGradient.times($0, columns: weight.shape[1]) }
    }
}

/// Element-wise activations.
public enum ActivationKind: String, Sendable, CaseIterable {
    case relu, leakyRelu = "leaky_relu", gelu, tanh
}

public final class Activation: Layer {
    public let kind: ActivationKind
    private var input = Matrix(zeros: 0, 0)

    public init(_ kind: ActivationKind) { self.kind = kind }

    public var parameters: [Parameter] { [] }

    public func forward(_ input: Matrix) -> Matrix {
        self.input = input
        var output = input
        for index in output.values.indices { output.values[index] = Self.apply(kind, input.values[index]) }
        return output
    }

    public func backward(_ outputGradient: Matrix) -> Matrix {
        var gradient = outputGradient
        for index in gradient.values.indices { gradient.values[index] *= Self.derivative(kind, input.values[index]) }
        return gradient
    }

    static func apply(_ kind: ActivationKind, _ x: Float) -> Float {
        switch kind {
        case .relu: return max(x, 0)
        case .leakyRelu: return x > 0 ? x : 0.01 * x
        case .tanh: return tanhf(x)
        case .gelu:
            // The tanh approximation of x·Φ(x).
            let inner = 0.797_884_56 * (x + 0.044715 * x * x * x)
            return 0.5 * x * (1 + tanhf(inner))
        }
    }

    static func derivative(_ kind: ActivationKind, _ x: Float) -> Float {
        switch kind {
        case .relu: return x > 0 ? 1 : 0
        case .leakyRelu: return x > 0 ? 1 : 0.01
        case .tanh:
            let t = tanhf(x)
            return 1 - t * t
        case .gelu:
            let inner = 0.797_884_56 * (x + 0.044715 * x * x * x)
            let t = tanhf(inner)
            let dInner = 0.797_884_56 * (1 + 3 * 0.044715 * x * x)
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * dInner
        }
    }
}

/// Layer normalisation over each row, with a learned gain and shift.
public final class LayerNorm: Layer {
    public let gain: Parameter
    public let shift: Parameter
    private let epsilon: Float = 1e-5
    private var normalised = Matrix(zeros: 0, 0)
    private var inverseDeviation: [Float] = []

    public init(_ width: Int) {
        gain = Parameter(shape: [width], values: [Float](repeating: 1, count: width))
        shift = Parameter(shape: [width])
    }

    public var parameters: [Parameter] { [gain, shift] }

    public func forward(_ input: Matrix) -> Matrix {
        let n = input.columns
        normalised = input
        inverseDeviation = [Float](repeating: 0, count: input.rows)
        var output = input
        for row in 0..<input.rows {
            var mean: Float = 0
            for column in 0..<n { mean += input[row, column] }
            mean /= Float(n)
            var variance: Float = 0
            for column in 0..<n {
                let d = input[row, column] - mean
                variance += d * d
            }
            variance /= Float(n)
            let inverse = 1 / (variance + epsilon).squareRoot()
            inverseDeviation[row] = inverse
            for column in 0..<n {
                let x = (input[row, column] - mean) * inverse
                normalised[row, column] = x
                output[row, column] = x * gain.values[column] + shift.values[column]
            }
        }
        return output
    }

    public func backward(_ outputGradient: Matrix) -> Matrix {
        let n = outputGradient.columns
        var inputGradient = outputGradient
        for row in 0..<outputGradient.rows {
            var sumG: Float = 0
            var sumGX: Float = 0
            for column in 0..<n {
                let g = outputGradient[row, column]
                gain.gradient[column] += g * normalised[row, column]
                shift.gradient[column] += g
                let gx = g * gain.values[column]
                sumG += gx
                sumGX += gx * normalised[row, column]
            }
            for column in 0..<n {
                let gx = outputGradient[row, column] * gain.values[column]
                inputGradient[row, column] = inverseDeviation[row] / Float(n)
                    * (Float(n) * gx - sumG - normalised[row, column] * sumGX)
            }
        }
        return inputGradient
    }
}

/// Layers one after another.
public final class Sequential: Layer {
    public let layers: [any Layer]

    public init(_ layers: [any Layer]) { self.layers = layers }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }

    public func forward(_ input: Matrix) -> Matrix {
        layers.reduce(input) { $1.forward($0) }
    }

    public func backward(_ outputGradient: Matrix) -> Matrix {
        layers.reversed().reduce(outputGradient) { $1.backward($0) }
    }
}

/// x + α·f(x): the gradient has a path that skips f. A deep stack of them keeps its activations in
/// range when α is small (ReZero and SkipInit start each branch near zero; GPT-2 scales them by
/// 1/√depth).
public final class Residual: Layer {
    public let body: Sequential
    public let scale: Float

    public init(_ body: Sequential, scale: Float = 1) {
        self.body = body
        self.scale = scale
    }

    public var parameters: [Parameter] { body.parameters }

    public func forward(_ input: Matrix) -> Matrix { input + scaled(body.forward(input)) }

    public func backward(_ outputGradient: Matrix) -> Matrix { outputGradient + body.backward(scaled(outputGradient)) }

    private func scaled(_ matrix: Matrix) -> Matrix {
        guard scale != 1 else { return matrix }
        var result = matrix
        for index in result.values.indices { result.values[index] *= scale }
        return result
    }
}
