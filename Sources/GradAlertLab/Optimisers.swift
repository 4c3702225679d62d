#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GradientHooks

/// Updates parameters from their gradients.
public protocol Optimiser: AnyObject {
    func step(_ parameters: [Parameter])
    var learningRate: Float { get set }
}

/// Stochastic gradient descent with momentum: v ← μv + g; w ← w − ηv.
public final class SGD: Optimiser {
    public var learningRate: Float
    public let momentum: Float
    private var velocity: [ObjectIdentifier: [Float]] = [:]

    public init(learningRate: Float, momentum: Float = 0) {
        self.learningRate = learningRate
        self.momentum = momentum
    }

    public func step(_ parameters: [Parameter]) {
        for parameter in parameters {
            let key = ObjectIdentifier(parameter)
            var v = velocity[key] ?? [Float](repeating: 0, count: parameter.count)
            for index in 0..<parameter.count {
                v[index] = momentum * v[index] + parameter.gradient[index]
                parameter.values[index] -= learningRate * v[index]
            }
            velocity[key] = v
        }
    }
}

/// Adam: per-parameter steps normalised by running estimates of the gradient's first and second
/// moments, with bias correction.
public final class Adam: Optimiser {
    public var learningRate: Float
    let beta1: Float, beta2: Float, epsilon: Float
    private var t: Float = 0
    private var moments: [ObjectIdentifier: ([Float], [Float])] = [:]

    public init(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    public func step(_ parameters: [Parameter]) {
        t += 1
        let correction1 = 1 - pow(beta1, t)
        let correction2 = 1 - pow(beta2, t)
        for parameter in parameters {
            let key = ObjectIdentifier(parameter)
            var (m, v) = moments[key] ?? ([Float](repeating: 0, count: parameter.count), [Float](repeating: 0, count: parameter.count))
            for index in 0..<parameter.count {
                let g = parameter.gradient[index]
                m[index] = beta1 * m[index] + (1 - beta1) * g
                v[index] = beta2 * v[index] + (1 - beta2) * g * g
                parameter.values[index] -= learningRate * (m[index] / correction1) / ((v[index] / correction2).squareRoot() + epsilon)
            }
            moments[key] = (m, v)
        }
    }
}

/// RMSProp: steps divided by a running root-mean-square of the gradient.
public final class RMSProp: Optimiser {
    public var learningRate: Float
    let decay: Float, epsilon: Float
    private var squares: [ObjectIdentifier: [Float]] = [:]

    public init(learningRate: Float, decay: Float = 0.99, epsilon: Float = 1e-8) {
        self.learningRate = learningRate
        self.decay = decay
        self.epsilon = epsilon
    }

    public func step(_ parameters: [Parameter]) {
        for parameter in parameters {
            let key = ObjectIdentifier(parameter)
            var s = squares[key] ?? [Float](repeating: 0, count: parameter.count)
            for index in 0..<parameter.count {
                let g = parameter.gradient[index]
                s[index] = decay * s[index] + (1 - decay) * g * g
                parameter.values[index] -= learningRate * g / (s[index].squareRoot() + epsilon)
            }
            squares[key] = s
        }
    }
}
