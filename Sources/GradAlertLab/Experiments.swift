#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GradientDetection
import Foundation
import GradientHooks
import TensorBoardEvents

/// One training run of the lab: a model, an optimiser, a task — and the one thing it changes from
/// its baseline.
public struct Experiment: Sendable {
    public enum Task: Sendable { case spirals, firstSign(length: Int) }
    public enum OptimiserKind: Sendable {
        case sgd(learningRate: Float, momentum: Float)
        case adam(learningRate: Float)
        case rmsprop(learningRate: Float)
    }

    /// `<cause>/<variant>`: the run's folder under the demo's logdir.
    public var name: String
    /// What this run changes from its cause's baseline, in words (for a baseline: what it is).
    public var change: String
    /// The remedy family it tries, if any.
    public var remedy: Remedy?
    public var task: Task = .spirals
    public var depth = 8
    public var width = 32
    public var activation: ActivationKind = .relu
    public var initialisation: Initialisation = .normal(0.4)
    public var layerNorm = false
    public var residual = false
    public var optimiser: OptimiserKind = .sgd(learningRate: 0.1, momentum: 0.9)
    public var clipNorm: Double?
    public var labelSmoothing: Float = 0
    public var recurrentScale: Float = 1.45
    public var batch = 32
    /// The scale of the spirals' inputs (1: coordinates within ±1; larger: raw, unnormalised).
    public var inputScale: Float = 1
    /// A residual branch's output is multiplied by this (1: plain x + f(x)).
    public var residualScale: Float = 1
    /// The loss as a hand-written softmax would compute it: exp of the raw logits, then the log of
    /// their ratio — which overflows once a logit passes about 88 in float32.
    public var naiveSoftmax = false

    public init(name: String, change: String, remedy: Remedy? = nil) {
        self.name = name
        self.change = change
        self.remedy = remedy
    }
}

/// What one run ended with.
public struct ExperimentResult: Sendable {
    public var name: String
    public var change: String
    public var stepsRun: Int
    public var finalLoss: Float
    public var accuracy: Float
    public var maxGlobalNorm: Double
    /// The step at which the gradients stopped being finite and training was abandoned, if it was.
    public var divergedAt: Int?
    /// The alerts the monitor raised while the run trained, in order (a scan of its logdir finds
    /// the same ones).
    public var alerts: [Alert] = []
}
